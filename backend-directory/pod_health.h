// Health of the pods' servers, as podgate-directory sees it: every server of
// every pod is probed for each protocol it serves by connecting and reading
// its greeting, in the server's own TLS mode (a pod with backend_tls
// "implicit" greets only inside TLS: the probe does the handshake first, as
// podgate would, without verifying the certificate). A server is down from
// its first failed probe and up again from its first good one; a server
// never probed yet counts as up (a fresh start must not empty every lookup
// answer).
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backend-directory/directory.h"
#include "core/tls_context.h"

namespace podgate::directory {

// What the lookup API asks; PodHealth is the real one, tests use fakes.
class ServerHealth {
 public:
  virtual ~ServerHealth() = default;
  // Unknown servers count as up.
  virtual bool is_up(Protocol protocol, std::string_view server) const = 0;
  // The directory changed (reload or edit): watch its servers from now on.
  virtual void set_directory(const Directory& directory) = 0;
  // podgate_directory_server_up{pod,protocol,server} in the Prometheus text
  // format, one series per server of each pod ("" when there are none).
  virtual std::string metrics_text() const = 0;
};

// Whether the greeting bytes received so far show a healthy server: true
// ("* OK" for IMAP, "+OK" for POP3, "220" for SMTP), false (anything else,
// or a line that ended too early), nullopt (too few bytes to tell yet).
std::optional<bool> judge_greeting(Protocol protocol, std::string_view received);

struct ProbeOptions {
  std::uint32_t interval_ms = 5000;  // 0: never probe (every server counts as up)
  std::uint32_t timeout_ms = 2000;   // connect and greeting together
};

class PodHealth final : public ServerHealth {
 public:
  enum class State { Unknown, Up, Down };

  PodHealth(uv_loop_t* loop, ProbeOptions options);
  // Only once stop() was called and the loop has run the close callbacks.
  ~PodHealth() override;
  PodHealth(const PodHealth&) = delete;
  PodHealth& operator=(const PodHealth&) = delete;

  // Probes every server at once, then every interval_ms.
  void start();
  // Stops probing and closes every handle; idempotent. The loop must run
  // afterwards for the close callbacks (until closed() is true).
  void stop();
  bool closed() const { return !timer_open_ && probes_.empty(); }

  bool is_up(Protocol protocol, std::string_view server) const override;
  void set_directory(const Directory& directory) override;
  std::string metrics_text() const override;

  State state(Protocol protocol, std::string_view server) const;
  // Probes that finished (up or down) since start, for tests.
  std::uint64_t probes_finished() const { return probes_finished_; }

 private:
  struct Probe;
  struct Target {
    Server server;
    // TLS from the first byte: the pod's backend_tls is "implicit". A server
    // listed by several pods is probed as the last of them says.
    bool implicit_tls = false;
    std::set<std::string> pods;  // for logs
    State state = State::Unknown;
    Probe* probe = nullptr;  // in flight
  };
  using Key = std::pair<Protocol, std::string>;

  static void on_tick(uv_timer_t* timer);
  void probe_all();
  void start_probe(const Key& key, Target& target);
  void record(Probe& probe, bool up, const std::string& why);
  void forget(Probe* probe);

  uv_loop_t* loop_;
  ProbeOptions options_;
  core::SslCtxPtr tls_;  // for servers with implicit TLS; nothing is verified
  uv_timer_t timer_;
  bool timer_open_ = false;
  bool running_ = false;
  bool stopping_ = false;
  std::map<Key, Target> targets_;
  std::vector<PodServer> pod_servers_;
  std::set<Probe*> probes_;  // open, including those closing
  std::uint64_t probes_finished_ = 0;
};

const char* to_string(PodHealth::State state);

}  // namespace podgate::directory
