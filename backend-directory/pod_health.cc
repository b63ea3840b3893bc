#include "backend-directory/pod_health.h"

#include <spdlog/spdlog.h>

#include <cassert>
#include <utility>

#include "core/metrics.h"
#include "core/stream.h"
#include "core/timer.h"

namespace podgate::directory {

namespace {

constexpr std::size_t kMaxGreetingBytes = 512;

std::string_view healthy_prefix(Protocol protocol) {
  switch (protocol) {
    case Protocol::Imap:
      return "* OK";
    case Protocol::Pop3:
      return "+OK";
    case Protocol::Smtp:
      return "220";
  }
  return "";
}

// Said after a good greeting so the server logs a clean goodbye.
std::string_view goodbye(Protocol protocol) {
  switch (protocol) {
    case Protocol::Imap:
      return "P LOGOUT\r\n";
    case Protocol::Pop3:
    case Protocol::Smtp:
      return "QUIT\r\n";
  }
  return "";
}

std::string printable(std::string_view bytes) {
  std::string text;
  for (char c : bytes.substr(0, 60)) {
    if (c == '\r' || c == '\n') break;
    text += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return text;
}

std::string pod_list(const std::set<std::string>& pods) {
  std::string text;
  for (const auto& pod : pods) text += (text.empty() ? "" : ", ") + pod;
  return text;
}

}  // namespace

const char* to_string(PodHealth::State state) {
  switch (state) {
    case PodHealth::State::Unknown:
      return "unknown";
    case PodHealth::State::Up:
      return "up";
    case PodHealth::State::Down:
      return "down";
  }
  return "unknown";
}

std::optional<bool> judge_greeting(Protocol protocol, std::string_view received) {
  std::string_view prefix = healthy_prefix(protocol);
  std::size_t compared = std::min(prefix.size(), received.size());
  if (received.substr(0, compared) != prefix.substr(0, compared)) return false;
  if (received.size() >= prefix.size()) return true;
  if (received.find('\n') != std::string_view::npos) return false;
  return std::nullopt;
}

// One probe: a connection (in the server's TLS mode) and its deadline. Freed
// once both have closed, never inside its own callback.
struct PodHealth::Probe final : core::StreamHandler {
  Probe(PodHealth& owner, Key key)
      : owner(owner),
        key(std::move(key)),
        stream(owner.loop_, *this),
        deadline(
            owner.loop_, [this] { on_deadline(); },
            [this] {
              deadline_closed = true;
              maybe_forget();
            }) {}

  void start(const Target& target) {
    implicit_tls = target.implicit_tls;
    deadline.start(owner.options_.timeout_ms);
    if (int rc = stream.connect(target.server.address); rc < 0) {
      finish(false, std::string("connect: ") + uv_strerror(rc));
    }
  }

  void finish(bool up, const std::string& why) {
    if (finished) return;
    finished = true;
    owner.record(*this, up, why);
    if (up) {
      // A clean goodbye, sent with whatever else is queued (and TLS's
      // close_notify); a server that does not take it is not waited for.
      stream.write(goodbye(key.first));
      stream.close_after_flush();
    } else {
      stream.close();
    }
    deadline.close();
  }

  // core::StreamHandler
  void on_stream_connected(core::Stream&, int status) override {
    if (finished) return;
    if (status < 0) {
      finish(false, std::string("connect: ") + uv_strerror(status));
      return;
    }
    connected = true;
    if (implicit_tls && !stream.start_tls_client(owner.tls_.get(), "")) {
      finish(false, "cannot start TLS: " + core::last_tls_error());
      return;
    }
    stream.start_reading();
  }

  void on_stream_data(core::Stream&, std::string_view bytes) override {
    if (finished) return;
    std::size_t room = kMaxGreetingBytes - received.size();
    received.append(bytes.substr(0, room));
    // judge_greeting() decides within a few bytes; the cap above only bounds
    // what one read may add.
    std::optional<bool> verdict = judge_greeting(key.first, received);
    if (verdict) {
      finish(*verdict, *verdict ? "" : "unexpected greeting \"" + printable(received) + "\"");
    }
  }

  void on_stream_end(core::Stream&, core::StreamEnd why) override {
    if (why == core::StreamEnd::TlsFailed) {
      finish(false, "TLS handshake failed: " + stream.tls_error());
    } else {
      finish(false, "closed before its greeting");
    }
  }

  void on_stream_closed(core::Stream&) override {
    stream_closed = true;
    maybe_forget();
  }

  void on_deadline() {
    std::string timeout = std::to_string(owner.options_.timeout_ms) + " ms";
    finish(false, !connected                             ? "connect timed out after " + timeout
                  : implicit_tls && !stream.tls_active() ? "no TLS within " + timeout
                                                         : "no greeting within " + timeout);
  }

  void maybe_forget() {
    if (stream_closed && deadline_closed) owner.forget(this);
  }

  PodHealth& owner;
  Key key;
  core::Stream stream;
  core::Timer deadline;
  std::string received;
  bool implicit_tls = false;
  bool connected = false;
  bool finished = false;
  bool stream_closed = false;
  bool deadline_closed = false;
};

PodHealth::PodHealth(uv_loop_t* loop, ProbeOptions options)
    : loop_(loop), options_(options), tls_(core::make_client_context()) {}

PodHealth::~PodHealth() {
  // Freeing open handles would leave the loop pointing at freed memory.
  assert(closed());
}

void PodHealth::start() {
  if (running_ || stopping_ || options_.interval_ms == 0) return;
  running_ = true;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  timer_open_ = true;
  uv_timer_start(&timer_, on_tick, 0, options_.interval_ms);
}

void PodHealth::stop() {
  if (stopping_) return;
  stopping_ = true;
  running_ = false;
  if (timer_open_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* handle) {
      static_cast<PodHealth*>(handle->data)->timer_open_ = false;
    });
  }
  // finish() leaves the set alone (forget() runs from the close callbacks).
  for (Probe* probe : probes_) probe->finish(false, "stopping");
}

void PodHealth::on_tick(uv_timer_t* timer) {
  static_cast<PodHealth*>(timer->data)->probe_all();
}

void PodHealth::probe_all() {
  for (auto& [key, target] : targets_) {
    // A probe slower than the interval is not doubled up.
    if (target.probe == nullptr) start_probe(key, target);
  }
}

void PodHealth::start_probe(const Key& key, Target& target) {
  auto* probe = new Probe(*this, key);
  probes_.insert(probe);
  target.probe = probe;
  probe->start(target);
}

void PodHealth::record(Probe& probe, bool up, const std::string& why) {
  auto found = targets_.find(probe.key);
  // Gone in a reload meanwhile, or replaced by a newer probe, or stopping.
  if (found == targets_.end() || found->second.probe != &probe) return;
  Target& target = found->second;
  target.probe = nullptr;
  if (stopping_) return;
  ++probes_finished_;
  State before = target.state;
  target.state = up ? State::Up : State::Down;
  if (before == target.state) return;
  const char* protocol = to_string(probe.key.first);
  std::string pods = pod_list(target.pods);
  if (!up) {
    spdlog::warn("{} server {} (pod {}) is down: {}", protocol, probe.key.second, pods, why);
  } else if (before == State::Down) {
    spdlog::info("{} server {} (pod {}) is up again", protocol, probe.key.second, pods);
  } else {
    spdlog::debug("{} server {} (pod {}) is up", protocol, probe.key.second, pods);
  }
}

void PodHealth::forget(Probe* probe) {
  probes_.erase(probe);
  delete probe;
}

bool PodHealth::is_up(Protocol protocol, std::string_view server) const {
  return state(protocol, server) != State::Down;
}

PodHealth::State PodHealth::state(Protocol protocol, std::string_view server) const {
  auto found = targets_.find(Key{protocol, std::string(server)});
  return found == targets_.end() ? State::Unknown : found->second.state;
}

void PodHealth::set_directory(const Directory& directory) {
  std::map<Key, Target> targets;
  pod_servers_ = directory.pod_servers();
  for (const PodServer& entry : pod_servers_) {
    Key key{entry.protocol, entry.server.text};
    auto [it, added] = targets.try_emplace(key);
    Target& target = it->second;
    if (added) {
      if (auto old = targets_.find(key); old != targets_.end()) {
        target = std::move(old->second);
        target.pods.clear();
      }
      target.server = entry.server;
    }
    target.implicit_tls = entry.backend_tls == "implicit";
    target.pods.insert(entry.pod);
  }
  // Probes of servers that are gone finish on their own; record() ignores them.
  targets_ = std::move(targets);
  if (running_) {
    for (auto& [key, target] : targets_) {
      if (target.state == State::Unknown && target.probe == nullptr) start_probe(key, target);
    }
  }
}

std::string PodHealth::metrics_text() const {
  if (pod_servers_.empty()) return "";
  using core::metrics::label;
  std::string text =
      "# HELP podgate_directory_server_up 1 when the pod server's last greeting probe succeeded "
      "(or none ran yet), 0 when it failed\n"
      "# TYPE podgate_directory_server_up gauge\n";
  for (const PodServer& entry : pod_servers_) {
    text += "podgate_directory_server_up{" + label("pod", entry.pod) + "," +
            label("protocol", to_string(entry.protocol)) + "," +
            label("server", entry.server.text) + "} " +
            (is_up(entry.protocol, entry.server.text) ? "1" : "0") + "\n";
  }
  return text;
}

}  // namespace podgate::directory
