// SASL pieces shared by every protocol's pre-auth parser: strict base64 and the
// PLAIN (RFC 4616) message. Pure functions, no I/O, fuzzed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/secret.h"

namespace podgate::sasl {

// Strict RFC 4648 base64 (padding required, no whitespace, no URL alphabet).
// Returns nullopt for anything malformed. "=" alone (the IMAP/SMTP/POP3 way of
// sending an empty initial response) is NOT handled here: callers check it.
std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);
// The same for bytes that must not linger: a PLAIN message, a password.
Secret base64_encode(const Secret& bytes);

struct PlainCredentials {
  std::string authzid;  // empty when the client did not ask to act as someone else
  std::string authcid;  // the login name
  Secret password;
};

// Splits a decoded PLAIN message "authzid NUL authcid NUL passwd". Rejects a
// missing field separator, an empty authcid or password, and NULs inside a field.
std::optional<PlainCredentials> parse_plain(std::string_view decoded);

// Builds the PLAIN message for a backend login (authzid empty).
Secret make_plain(std::string_view authcid, const Secret& password);
// The same for clients whose passwords are their own (podgate-bench, tests).
std::string make_plain(std::string_view authcid, std::string_view password);

}  // namespace podgate::sasl
