// Where a session asks which pod holds a user: the embedded JSON file, a
// pool of podgate-directory servers over HTTP, or an nginx-style auth_http
// service. All three answer through the same asynchronous call, so the
// session's login hop does not care which one the operator configured.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backend-directory/directory.h"

namespace podgate::proxy {

struct LookupRequest {
  std::string user;
  // Only auth_http sends it (its service checks the password); the other
  // clients never look at it.
  std::string password;
  directory::Protocol protocol = directory::Protocol::Imap;
  std::string client_ip;
  bool client_tls = false;
  unsigned attempt = 1;  // logins tried on this connection, this one included
};

enum class LookupOutcome {
  Found,        // route says where to log in
  UnknownUser,  // answered like a wrong password
  Refused,      // auth_http said no (wrong password, blocked...)
  Unavailable,  // no directory could answer now
};

struct LookupResult {
  LookupOutcome outcome = LookupOutcome::Unavailable;
  std::optional<directory::Route> route;
  // Where the answer came from, for the access log: "file", "cache",
  // "stale", "directory", "auth_http".
  const char* source = "";
  // auth_http only: the service's Auth-Wait (seconds before answering), its
  // Auth-Error-Code for SMTP, and the user/password to log in to the pod
  // with when it replaces them (Auth-User / Auth-Pass in its answer).
  std::uint32_t wait_seconds = 0;
  std::string smtp_error_code;
  std::optional<std::string> backend_user;
  std::optional<std::string> backend_password;

  static LookupResult found(directory::Route route, const char* source) {
    LookupResult result;
    result.outcome = LookupOutcome::Found;
    result.route = std::move(route);
    result.source = source;
    return result;
  }
  static LookupResult without_route(LookupOutcome outcome, const char* source) {
    LookupResult result;
    result.outcome = outcome;
    result.source = source;
    return result;
  }
};

using LookupDone = std::function<void(LookupResult)>;

class DirectoryClient {
 public:
  virtual ~DirectoryClient() = default;
  // `done` runs exactly once, possibly before lookup() returns (a cached or
  // embedded answer). The caller makes sure it is still alive (see Session).
  virtual void lookup(const LookupRequest& request, LookupDone done) = 0;
  // Drops cached answers for the user (the admin kicked them: they moved).
  virtual void forget(const std::string& /*user*/) {}
  // SIGHUP: the embedded directory rereads its file.
  virtual void reload() {}
  // The proxy is stopping: close connections; pending callbacks never run.
  virtual void close() {}
  // Every server the directory knows for the protocol (empty when remote).
  virtual std::vector<directory::Server> known_servers(directory::Protocol /*protocol*/) const {
    return {};
  }
};

}  // namespace podgate::proxy
