// The answer of `GET /v1/lookup?user=U&protocol=P`, shared by
// podgate-directory (which writes it) and podgate's HTTP directory client
// (which reads it), so both sides agree on one format:
//
//   200 {"user": "alice@example.com", "protocol": "imap", "pod": "pod-1",
//        "enabled": true, "servers": ["127.0.0.1:20143"],
//        "backend_tls": "none", "smtp_auth": "plain", "ttl": 30}
//
// "servers" holds only the servers the health probe considers up, in the
// order to try them; empty (with "error": "no server available") when the
// pod has none. An unknown user is 404 {"error": "unknown user"}.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "backend-directory/directory.h"

namespace podgate::directory {

struct LookupAnswer {
  Route route;
  std::uint32_t ttl_seconds = 0;
};

nlohmann::json encode_lookup_answer(std::string_view user, Protocol protocol, const Route& route,
                                    std::uint32_t ttl_seconds);
// Throws DirectoryError naming the missing or ill-typed field.
LookupAnswer decode_lookup_answer(const nlohmann::json& body);

}  // namespace podgate::directory
