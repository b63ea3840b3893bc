#include "proxy/login_metrics.h"

#include <optional>

namespace podgate::proxy {

namespace {

using core::metrics::label;

constexpr const char* kPhaseHelp = "Login phase durations, as in the access log";
constexpr double kMsPerSecond = 1000.0;

void observe_ms(core::metrics::Histogram* histogram, const std::optional<double>& ms) {
  if (ms) histogram->observe(*ms / kMsPerSecond);
}

}  // namespace

LoginMetrics::LoginMetrics(core::metrics::Registry& registry)
    : registry_(registry),
      sessions_active_(registry.gauge("podgate_sessions_active", "Client connections open now")) {
  for (auto protocol :
       {directory::Protocol::Imap, directory::Protocol::Pop3, directory::Protocol::Smtp}) {
    std::string name = directory::to_string(protocol);
    auto phase = [&](const char* phase_name) {
      return &registry.histogram("podgate_login_phase_seconds", kPhaseHelp,
                                 label("protocol", name) + "," + label("phase", phase_name));
    };
    PerProtocol& counters = of(protocol);
    counters.tls = phase("tls");
    counters.credentials = phase("credentials");
    counters.directory = phase("directory");
    counters.backend_connect = phase("backend_connect");
    counters.backend_auth = phase("backend_auth");
    counters.total = phase("total");
    for (std::size_t i = 0; i < kResults.size(); ++i) {
      counters.results[i] =
          &registry.counter("podgate_logins_total", "Login attempts by protocol and outcome",
                            label("protocol", name) + "," + label("result", kResults[i]));
    }
    auto bytes = [&](const char* direction) {
      return &registry.counter("podgate_relayed_bytes_total",
                               "Bytes of logged-in sessions, by protocol and direction",
                               label("protocol", name) + "," + label("direction", direction));
    };
    counters.bytes_from_client = bytes("from_client");
    counters.bytes_to_client = bytes("to_client");
  }
  for (std::size_t i = 0; i < kSources.size(); ++i) {
    directory_by_source_[i] = &registry.histogram(
        "podgate_directory_lookup_seconds", "Directory lookup time by where the answer came from",
        label("source", kSources[i]));
  }
}

void LoginMetrics::session_closed(directory::Protocol protocol, const SessionRecord& record) {
  sessions_active_.sub();
  if (record.outcome != LoginOutcome::LoggedIn) return;
  PerProtocol& counters = of(protocol);
  counters.bytes_from_client->add(record.bytes_from_client);
  counters.bytes_to_client->add(record.bytes_to_client);
}

void LoginMetrics::tls_handshake_done(directory::Protocol protocol, double ms) {
  of(protocol).tls->observe(ms / kMsPerSecond);
}

void LoginMetrics::login_answered(directory::Protocol protocol, const SessionRecord& record) {
  PerProtocol& counters = of(protocol);
  observe_ms(counters.credentials, record.phases.credentials);
  observe_ms(counters.directory, record.phases.directory);
  observe_ms(counters.backend_connect, record.phases.backend_connect);
  observe_ms(counters.backend_auth, record.phases.backend_auth);
  observe_ms(counters.total, record.phases.total);
  if (!record.outcome) return;
  std::string_view result = result_name(*record.outcome);
  for (std::size_t i = 0; i < kResults.size(); ++i) {
    if (result == kResults[i]) counters.results[i]->add();
  }
}

void LoginMetrics::directory_answered(std::string_view source, double ms) {
  for (std::size_t i = 0; i < kSources.size(); ++i) {
    if (source == kSources[i]) {
      directory_by_source_[i]->observe(ms / kMsPerSecond);
      return;
    }
  }
}

void LoginMetrics::backend_connect_failed(const std::string& pod) {
  // Rare, so the lock and the search by name are fine here.
  registry_
      .counter("podgate_backend_connect_failures_total",
               "Pod servers that refused, timed out or never greeted, by pod", label("pod", pod))
      .add();
}

void LoginMetrics::backend_login_fault(const std::string& pod) {
  registry_
      .counter("podgate_backend_login_faults_total",
               "Pod answers during the login that said nothing about the credentials, by pod",
               label("pod", pod))
      .add();
}

}  // namespace podgate::proxy
