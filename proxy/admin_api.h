// podgate's admin API (config "admin": {"listen": ...}), for operators on a
// management network:
//   GET  /v1/sessions[?user=U]  live sessions: id, protocol, user, pod, client, since, bytes
//   POST /v1/kick?user=U        closes U's sessions with a polite goodbye and
//                               forgets U's cached route (they may have moved)
//   GET  /metrics               Prometheus text
//   GET  /healthz               {"status": "ok", ...}
//
// It runs on the control thread; sessions live on the worker threads, so it
// reads and kicks them through EachWorker, which runs a visit on every
// worker's own thread.
#pragma once

#include <functional>

#include "core/http/http_message.h"
#include "proxy/worker.h"

namespace podgate::proxy {

// Runs `visit` on every worker, each on its own thread, one after another,
// and returns once all have run it.
using EachWorker = std::function<void(const std::function<void(Worker&)>& visit)>;

class AdminApi {
 public:
  AdminApi(core::metrics::Registry& metrics, EachWorker each_worker,
           std::function<bool()> stopping);
  core::http::Response handle(const core::http::Request& request);

 private:
  core::http::Response list_sessions(const core::http::Request& request) const;
  core::http::Response kick(const core::http::Request& request);

  core::metrics::Registry& metrics_;
  EachWorker each_worker_;
  std::function<bool()> stopping_;
  core::metrics::Counter& kicked_;
};

}  // namespace podgate::proxy
