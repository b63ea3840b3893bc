// One JSON line per client session: who, where to, how it ended, and how long
// each login phase took. Never holds a password or SASL payload: the record
// has no field that could carry one.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "proxy/close_reason.h"
#include "proxy/login_outcome.h"

namespace podgate::proxy {

// Durations in milliseconds; a phase the session never reached stays empty.
struct LoginPhases {
  std::optional<double> tls;
  std::optional<double> credentials;
  std::optional<double> directory;
  std::optional<double> backend_connect;
  std::optional<double> backend_auth;
  std::optional<double> total;
};

struct SessionRecord {
  std::string session;
  std::string protocol;
  std::string listener;
  std::string client;
  std::string user;
  std::string pod;
  std::string directory;  // where the route came from: file, cache, stale, directory, auth_http
  std::string backend;
  std::string tls = "none";
  std::string backend_tls = "none";  // TLS version on the pod link
  // How the last login attempt ended (none: no attempt). The access log
  // shows it as "result" (result_name(): ok, auth_failed, disabled,
  // unavailable, in_use; no_login without an attempt) and as "outcome".
  std::optional<LoginOutcome> outcome;
  std::optional<CloseReason> close_reason;
  // The lockout that refused the last login without asking a pod ("" for
  // none): address, user, user_address or password. The client saw an
  // ordinary failure.
  std::string lockout;
  std::uint64_t bytes_from_client = 0;
  std::uint64_t bytes_to_client = 0;
  LoginPhases phases;
  double duration_ms = 0;
};

std::string to_json_line(const SessionRecord& record);

class AccessLog {
 public:
  // "-" writes to standard output. Throws std::runtime_error if the file
  // cannot be opened for appending.
  explicit AccessLog(const std::string& path);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void write(const SessionRecord& record);

 private:
  std::FILE* file_;
  bool owned_;
};

}  // namespace podgate::proxy
