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
#include "core/secret.h"
#include "proxy/login_outcome.h"

namespace podgate::proxy {

struct LookupRequest {
  std::string user;
  // Set only for a source that checks the password itself (auth_http:
  // wants_password()), and valid only during the lookup() call: the
  // password is not copied into requests that do not need it.
  const Secret* password = nullptr;
  directory::Protocol protocol = directory::Protocol::Imap;
  std::string client_ip;
  bool client_tls = false;
  unsigned attempt = 1;  // logins tried on this connection, this one included
};

struct LookupResult {
  // Where to log in. Without one, `failure` says why: UnknownUser,
  // DirectoryRefused (auth_http said no) or DirectoryUnavailable.
  std::optional<directory::Route> route;
  LoginOutcome failure = LoginOutcome::DirectoryUnavailable;
  // Where the answer came from, for the access log: "file", "cache",
  // "stale", "directory", "auth_http".
  const char* source = "";
  // auth_http only: the service's Auth-Wait (seconds before answering), its
  // Auth-Error-Code for SMTP, and the user/password to log in to the pod
  // with when it replaces them (Auth-User / Auth-Pass in its answer).
  std::uint32_t wait_seconds = 0;
  std::string smtp_error_code;
  std::optional<std::string> backend_user;
  std::optional<Secret> backend_password;

  static LookupResult found(directory::Route route, const char* source) {
    LookupResult result;
    result.route = std::move(route);
    result.source = source;
    return result;
  }
  static LookupResult without_route(LoginOutcome why, const char* source) {
    LookupResult result;
    result.failure = why;
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
  // The source checks the password itself and needs it in the request.
  virtual bool wants_password() const { return false; }
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
