#include "backend-directory/pod_health.h"

#include <spdlog/spdlog.h>

#include <cassert>

#include "core/metrics.h"

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

// One connection attempt: a TCP handle and its deadline. Freed in the close
// callback of the last of the two handles, never inside its own callback.
struct PodHealth::Probe {
  PodHealth* owner = nullptr;
  Key key;
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_timer_t deadline;
  char buffer[kMaxGreetingBytes];
  std::string received;
  int open_handles = 0;
  bool connected = false;
  bool finished = false;

  void finish(bool up, const std::string& why) {
    if (finished) return;
    finished = true;
    if (up) {
      // Best effort: a goodbye that does not fit at once is not worth waiting for.
      std::string_view bye = goodbye(key.first);
      uv_buf_t buf = uv_buf_init(const_cast<char*>(bye.data()), bye.size());
      uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp), &buf, 1);
    }
    owner->record(*this, up, why);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&deadline), on_close);
  }

  static void on_close(uv_handle_t* handle) {
    auto* probe = static_cast<Probe*>(handle->data);
    if (--probe->open_handles == 0) probe->owner->forget(probe);
  }

  static void on_connect(uv_connect_t* request, int status) {
    auto* probe = static_cast<Probe*>(request->data);
    if (probe->finished) return;  // includes UV_ECANCELED from our own close
    if (status < 0) {
      probe->finish(false, std::string("connect: ") + uv_strerror(status));
      return;
    }
    probe->connected = true;
    int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&probe->tcp), on_alloc, on_read);
    if (rc < 0) probe->finish(false, std::string("read: ") + uv_strerror(rc));
  }

  static void on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
    auto* probe = static_cast<Probe*>(handle->data);
    *buf = uv_buf_init(probe->buffer, sizeof probe->buffer);
  }

  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* probe = static_cast<Probe*>(stream->data);
    if (probe->finished) return;
    if (nread < 0) {
      probe->finish(false, nread == UV_EOF ? std::string("closed before its greeting")
                                           : std::string("read: ") + uv_strerror(nread));
      return;
    }
    std::size_t room = kMaxGreetingBytes - probe->received.size();
    probe->received.append(buf->base, std::min<std::size_t>(nread, room));
    std::optional<bool> verdict = judge_greeting(probe->key.first, probe->received);
    if (!verdict && probe->received.size() >= kMaxGreetingBytes) verdict = false;
    if (verdict) {
      probe->finish(*verdict,
                    *verdict ? "" : "unexpected greeting \"" + printable(probe->received) + "\"");
    }
  }

  static void on_deadline(uv_timer_t* timer) {
    auto* probe = static_cast<Probe*>(timer->data);
    std::string timeout = std::to_string(probe->owner->options_.timeout_ms) + " ms";
    probe->finish(false, probe->connected ? "no greeting within " + timeout
                                          : "connect timed out after " + timeout);
  }
};

PodHealth::PodHealth(uv_loop_t* loop, ProbeOptions options) : loop_(loop), options_(options) {}

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
  auto* probe = new Probe;
  probe->owner = this;
  probe->key = key;
  probe->tcp.data = probe;
  probe->connect.data = probe;
  probe->deadline.data = probe;
  int rc = uv_tcp_init(loop_, &probe->tcp);
  if (rc < 0) {
    spdlog::error("cannot probe {} server {}: {}", to_string(key.first), key.second,
                  uv_strerror(rc));
    delete probe;
    return;
  }
  uv_timer_init(loop_, &probe->deadline);
  probe->open_handles = 2;
  probes_.insert(probe);
  target.probe = probe;
  uv_timer_start(&probe->deadline, Probe::on_deadline, options_.timeout_ms, 0);
  rc = uv_tcp_connect(&probe->connect, &probe->tcp, target.server.address.get(), Probe::on_connect);
  if (rc < 0) probe->finish(false, std::string("connect: ") + uv_strerror(rc));
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
