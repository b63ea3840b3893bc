#include "proxy/admin_api.h"

#include <spdlog/spdlog.h>

#include <strings.h>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/log_text.h"
#include "proxy/directory/directory_client.h"

namespace podgate::proxy {

using nlohmann::json;

namespace {

std::string iso8601(std::int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + length, sizeof text - length, ".%03dZ", static_cast<int>(unix_ms % 1000));
  return text;
}

bool same_user(const std::string& a, const std::string& b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// User names come from clients and need not be UTF-8: replace what is not,
// rather than failing the whole answer.
core::http::Response json_answer(int status, const json& body) {
  return core::http::Response::json(
      status, body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
}

core::http::Response error(int status, const std::string& message) {
  return json_answer(status, json{{"error", message}});
}

}  // namespace

AdminApi::AdminApi(core::metrics::Registry& metrics, EachWorker each_worker,
                   std::function<bool()> stopping)
    : metrics_(metrics),
      each_worker_(std::move(each_worker)),
      stopping_(std::move(stopping)),
      kicked_(metrics.counter("podgate_admin_kicked_sessions_total",
                              "Sessions closed through POST /v1/kick")) {}

core::http::Response AdminApi::handle(const core::http::Request& request) {
  std::string path = request.path();
  bool get = request.method == "GET" || request.method == "HEAD";
  if (path == "/v1/sessions") {
    return get ? list_sessions(request) : error(405, "use GET");
  }
  if (path == "/v1/kick") {
    return request.method == "POST" ? kick(request) : error(405, "use POST");
  }
  if (path == "/metrics") {
    return get ? core::http::Response::text(200, metrics_.render()) : error(405, "use GET");
  }
  if (path == "/healthz") {
    if (!get) return error(405, "use GET");
    std::size_t sessions = 0;
    each_worker_([&sessions](Worker& worker) { sessions += worker.sessions.size(); });
    return json_answer(200,
                       json{{"status", stopping_() ? "stopping" : "ok"}, {"sessions", sessions}});
  }
  return error(404, "no such resource: " + path);
}

core::http::Response AdminApi::list_sessions(const core::http::Request& request) const {
  auto query = request.query();
  auto user_filter = query.find("user");
  std::vector<SessionSummary> summaries;
  each_worker_([&](Worker& worker) {
    for (const LiveSession* session : worker.sessions) {
      SessionSummary summary = session->summary();
      if (user_filter != query.end() && !same_user(summary.user, user_filter->second)) continue;
      summaries.push_back(std::move(summary));
    }
  });
  std::sort(summaries.begin(), summaries.end(),
            [](const auto& a, const auto& b) { return a.since_unix_ms < b.since_unix_ms; });
  json list = json::array();
  for (const auto& summary : summaries) {
    list.push_back({
        {"id", summary.id},
        {"protocol", summary.protocol},
        {"user", summary.logged_in ? json(summary.user) : json(nullptr)},
        {"pod", summary.logged_in ? json(summary.pod) : json(nullptr)},
        {"backend", summary.logged_in ? json(summary.backend) : json(nullptr)},
        {"client", summary.client},
        {"since", iso8601(summary.since_unix_ms)},
        {"logged_in", summary.logged_in},
        {"bytes",
         {{"from_client", summary.bytes_from_client}, {"to_client", summary.bytes_to_client}}},
    });
  }
  return json_answer(200, json{{"sessions", list}});
}

core::http::Response AdminApi::kick(const core::http::Request& request) {
  auto query = request.query();
  auto user = query.find("user");
  if (user == query.end() || user->second.empty()) return error(400, "missing parameter: user");
  std::size_t kicked = 0;
  each_worker_([&](Worker& worker) {
    // Only logged-in sessions are the user's; a stranger typing their name
    // is not. kick() may free the session: collect first.
    std::vector<LiveSession*> targets;
    for (LiveSession* session : worker.sessions) {
      if (same_user(session->user(), user->second) && session->summary().logged_in) {
        targets.push_back(session);
      }
    }
    for (LiveSession* session : targets) session->kick();
    worker.directory->forget(user->second);
    kicked += targets.size();
  });
  // The workers share one route cache and were visited one after another: a
  // lookup answered on a later worker before its visit may have stored the
  // old route again after an earlier worker's forget(). All such lookups are
  // marked by now, so a second round leaves no old route behind.
  each_worker_([&](Worker& worker) { worker.directory->forget(user->second); });
  kicked_.add(kicked);
  // The name comes from the request: no line breaks of its own into the log.
  spdlog::info("admin: kicked {} session(s) of {}", kicked, core::log_safe(user->second));
  return json_answer(200, json{{"user", user->second}, {"kicked", kicked}});
}

}  // namespace podgate::proxy
