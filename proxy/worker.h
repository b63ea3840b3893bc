// Everything one event-loop thread shares between its sessions: the loop,
// the read-only configuration, TLS contexts and directory client, the access
// log, and the list of live sessions (for a polite shutdown). Only the
// worker's own thread touches it; other threads go through WorkerThread.
#pragma once

#include <openssl/ssl.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "backend-directory/directory.h"
#include "core/metrics.h"
#include "proxy/access_log.h"
#include "proxy/config.h"
#include "proxy/smtp_extension_probe.h"

namespace podgate::proxy {

// What the admin API shows of a session.
struct SessionSummary {
  std::string id;
  std::string protocol;
  std::string user;  // set once logged in
  std::string pod;
  std::string backend;
  std::string client;
  std::int64_t since_unix_ms = 0;  // accepted
  bool logged_in = false;
  std::uint64_t bytes_from_client = 0;
  std::uint64_t bytes_to_client = 0;
};

class LiveSession {
 public:
  virtual ~LiveSession() = default;
  // The server is stopping: say goodbye in the session's protocol and close.
  virtual void shut_down() = 0;
  // The server is stopping but gives logged-in sessions time to end by
  // themselves: a session still logging in shuts down, a logged-in one goes
  // on. A session that cannot tell shuts down.
  virtual void drain() { shut_down(); }
  // An administrator closes the session: a polite goodbye, then close.
  virtual void kick() = 0;
  virtual SessionSummary summary() const = 0;
  // The user who gave credentials ("" before any).
  virtual const std::string& user() const = 0;
};

class DirectoryClient;
class LoginMetrics;
class LoginProtection;
struct ConnectionLimits;

struct Worker {
  unsigned index = 0;  // 0..workers-1, for metrics
  uv_loop_t* loop = nullptr;
  const Config* config = nullptr;
  SSL_CTX* server_tls = nullptr;
  SSL_CTX* backend_tls = nullptr;  // podgate as TLS client of pods
  bool backend_tls_verifies = false;
  DirectoryClient* directory = nullptr;
  core::metrics::Registry* metrics = nullptr;
  LoginMetrics* login_metrics = nullptr;
  LoginProtection* protection = nullptr;  // shared by all workers
  // limits.max_connections and max_connections_per_address, shared by all
  // workers; null: no such limits (unit tests).
  ConnectionLimits* connection_limits = nullptr;
  // This worker's number with connection_limits->budget (add_waiter).
  std::size_t budget_waiter = 0;
  core::metrics::Counter* connections_accepted = nullptr;  // this worker's
  AccessLog* access_log = nullptr;
  std::unordered_set<LiveSession*> sessions;
  // The pods' common SMTP extensions, for podgate's EHLO answer (see
  // SmtpExtensionProbe); what podgate itself guarantees until a probe answers.
  std::vector<std::string> smtp_extensions = fallback_extensions();
  bool stopping = false;

  // Unique across workers, restarts and processes.
  static std::string next_session_id();
};

}  // namespace podgate::proxy
