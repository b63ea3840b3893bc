// What /metrics tells of logins, next to the access log's per-session line:
//  - podgate_login_phase_seconds{protocol,phase}: the access log's phases
//    (tls, credentials, directory, backend_connect, backend_auth, total) as
//    histograms, one observation per login attempt (tls: per handshake);
//  - podgate_logins_total{protocol,result}: attempts by outcome;
//  - podgate_directory_lookup_seconds{source}: the directory phase by where
//    the answer came from (file, cache, stale, directory, auth_http);
//  - podgate_backend_connect_failures_total{pod}: pod servers that refused,
//    timed out or never greeted;
//  - podgate_backend_login_faults_total{pod}: pod answers during the login
//    that were no verdict on the credentials (pod_verdict.h), and pods that
//    gave none in time;
//  - podgate_relayed_bytes_total{protocol,direction} and the live sessions.
// Every series a login touches is registered up front and held by
// reference, so counting takes no lock and no lookup by name; only a pod's
// first connect failure registers its series (rare, under the registry lock).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "backend-directory/directory.h"
#include "core/metrics.h"
#include "proxy/access_log.h"

namespace podgate::proxy {

class LoginMetrics {
 public:
  explicit LoginMetrics(core::metrics::Registry& registry);

  void session_opened() { sessions_active_.add(); }
  void session_closed(directory::Protocol protocol, const SessionRecord& record);
  void tls_handshake_done(directory::Protocol protocol, double ms);
  // A login attempt was answered (record.outcome says how); its phases.
  void login_answered(directory::Protocol protocol, const SessionRecord& record);
  void directory_answered(std::string_view source, double ms);
  void backend_connect_failed(const std::string& pod);
  void backend_login_fault(const std::string& pod);

 private:
  static constexpr std::size_t kProtocols = 3;
  // Every result_name() but no_login (no credentials, no login to count).
  static constexpr std::array<const char*, 6> kResults{"ok",       "auth_failed", "policy",
                                                       "disabled", "unavailable", "in_use"};
  static constexpr std::array<const char*, 5> kSources{"file", "cache", "stale", "directory",
                                                       "auth_http"};
  struct PerProtocol {
    core::metrics::Histogram* tls;
    core::metrics::Histogram* credentials;
    core::metrics::Histogram* directory;
    core::metrics::Histogram* backend_connect;
    core::metrics::Histogram* backend_auth;
    core::metrics::Histogram* total;
    std::array<core::metrics::Counter*, kResults.size()> results;
    core::metrics::Counter* bytes_from_client;
    core::metrics::Counter* bytes_to_client;
  };
  PerProtocol& of(directory::Protocol protocol) {
    return per_protocol_[static_cast<std::size_t>(protocol)];
  }

  core::metrics::Registry& registry_;
  std::array<PerProtocol, kProtocols> per_protocol_{};
  std::array<core::metrics::Histogram*, kSources.size()> directory_by_source_{};
  core::metrics::Gauge& sessions_active_;
};

}  // namespace podgate::proxy
