// podgate's admin API (config "admin": {"listen": ...}), for operators on a
// management network:
//   GET  /v1/sessions[?user=U]  live sessions: id, protocol, user, pod, client, since, bytes
//   POST /v1/kick?user=U        closes U's sessions with a polite goodbye and
//                               forgets U's cached route (they may have moved)
//   GET  /metrics               Prometheus text
//   GET  /healthz               {"status": "ok", ...}
#pragma once

#include "core/http/http_message.h"
#include "proxy/worker.h"

namespace podgate::proxy {

class AdminApi {
 public:
  explicit AdminApi(Worker& worker);
  core::http::Response handle(const core::http::Request& request);

 private:
  core::http::Response list_sessions(const core::http::Request& request) const;
  core::http::Response kick(const core::http::Request& request);

  Worker& worker_;
  core::metrics::Counter& kicked_;
};

}  // namespace podgate::proxy
