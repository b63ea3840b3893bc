// The HTTP/JSON API of podgate-directory, as one synchronous handler (no
// sockets here, so every route is unit-tested through handle()):
//
//   GET    /v1/lookup?user=U&protocol=P   the answer of lookup_answer.h
//   GET    /v1/users/{user}               the stored entry, 404 when none
//   PUT    /v1/users/{user}               {"pod": ..., "imap"/"pop3"/"smtp": bool}: 201 new, 200
//   replaced DELETE /v1/users/{user}               200, 404 GET    /v1/pods/{pod} the stored entry,
//   404 when none PUT    /v1/pods/{pod}                 {"imap": [...], ..., "smtp_auth",
//   "backend_tls"}: 201, 200 DELETE /v1/pods/{pod}                 200, 404, 409 while users or
//   domains point to it GET    /healthz                       {"status": "ok", "users": N, "pods":
//   M} GET    /metrics                       Prometheus text
//
// Errors are JSON {"error": "<reason>"}: 400 for a malformed or invalid
// request (nothing is changed), 404 for an unknown path, 405 for a method a
// path does not take, 500 when the file could not be written.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "backend-directory/directory_store.h"
#include "backend-directory/pod_health.h"
#include "core/http/http_message.h"
#include "core/metrics.h"

namespace podgate::directory {

struct ApiOptions {
  std::uint32_t ttl_seconds = 30;  // how long podgate may cache an answer
};

class DirectoryApi {
 public:
  // `health` may be null: every server then counts as up.
  DirectoryApi(DirectoryStore& store, ServerHealth* health, core::metrics::Registry& metrics,
               ApiOptions options = {});
  DirectoryApi(const DirectoryApi&) = delete;
  DirectoryApi& operator=(const DirectoryApi&) = delete;

  core::http::Response handle(const core::http::Request& request);

  // Reads the file again (SIGHUP, file watch); counts the result and tells
  // the health prober about new servers. The old data stays on failure.
  // An unchanged file counts as a reload only when `forced` (SIGHUP): the
  // watch also sees the API's own edits.
  ReloadResult reload(bool forced);

  struct EntryKind;  // users or pods: the store calls for one kind of entry

 private:
  core::http::Response lookup(const core::http::Request& request);
  core::http::Response entry(const core::http::Request& request, const EntryKind& kind,
                             const std::string& name);
  core::http::Response answer_edit(const EditResult& result, const char* what,
                                   const std::string& name);
  core::http::Response metrics_page();
  void directory_changed();

  DirectoryStore& store_;
  ServerHealth* health_;
  core::metrics::Registry& metrics_;
  ApiOptions options_;

  core::metrics::Counter& requests_;
  core::metrics::Counter& lookups_found_;
  core::metrics::Counter& lookups_unknown_;
  core::metrics::Counter& lookups_no_server_;
  core::metrics::Counter& lookups_bad_request_;
  core::metrics::Counter& reloads_ok_;
  core::metrics::Counter& reloads_failed_;
  core::metrics::Counter& edits_ok_;
  core::metrics::Counter& edits_rejected_;
  core::metrics::Counter& edits_failed_;
};

}  // namespace podgate::directory
