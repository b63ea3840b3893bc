#include "proxy/directory/http_directory.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "backend-directory/lookup_answer.h"
#include "core/timer.h"

namespace podgate::proxy {

namespace {

constexpr std::uint64_t kNsPerSecond = 1'000'000'000;

LookupCacheLimits cache_limits(const DirectoryConfig& config) {
  LookupCacheLimits limits;
  limits.max_entries = config.cache_entries;
  limits.negative_ttl_ns = std::uint64_t{config.negative_ttl_seconds} * kNsPerSecond;
  limits.stale_ns = std::uint64_t{config.stale_seconds} * kNsPerSecond;
  return limits;
}

core::metrics::Counter& lookups(core::metrics::Registry& metrics, const char* result) {
  return metrics.counter("podgate_directory_client_lookups_total",
                         "Directory lookups by how they were answered",
                         core::metrics::label("result", result));
}

}  // namespace

HttpDirectory::HttpDirectory(uv_loop_t* loop, const DirectoryConfig& config,
                             core::metrics::Registry& metrics)
    : cache_(cache_limits(config)),
      counters_{
          lookups(metrics, "cache_hit"),
          lookups(metrics, "negative_cache_hit"),
          lookups(metrics, "cache_miss"),
          lookups(metrics, "coalesced"),
          lookups(metrics, "stale"),
          lookups(metrics, "unavailable"),
          metrics.counter("podgate_directory_client_requests_total",
                          "HTTP requests to directory servers by outcome",
                          core::metrics::label("result", "ok")),
          metrics.counter("podgate_directory_client_requests_total",
                          "HTTP requests to directory servers by outcome",
                          core::metrics::label("result", "failed")),
      } {
  core::http::ClientOptions options;
  options.max_connections = config.max_connections;
  options.max_idle_connections = config.max_connections;
  options.request_timeout_ms = config.timeout_ms;
  for (const auto& url : config.urls) {
    clients_.push_back(
        std::make_unique<core::http::Client>(loop, core::http::parse_url(url), options));
  }
  metrics.gauge_callback("podgate_directory_client_cache_entries",
                         "Directory answers held in the cache", "",
                         [this] { return static_cast<double>(cache_.size()); });
}

HttpDirectory::~HttpDirectory() {
  close();
}

void HttpDirectory::close() {
  if (closed_) return;
  closed_ = true;
  in_flight_.clear();  // their sessions are going away with the loop
  for (auto& client : clients_) client->close();
}

void HttpDirectory::forget(const std::string& user) {
  cache_.forget_user(user);
}

void HttpDirectory::lookup(const LookupRequest& request, LookupDone done) {
  std::string key = LookupCache::key(request.user, request.protocol);
  LookupCache::Hit hit = cache_.find(key, core::now_ns());
  if (hit.state == LookupCache::State::FreshFound) {
    counters_.cache_hits.add();
    done(LookupResult::found(*hit.route, "cache"));
    return;
  }
  if (hit.state == LookupCache::State::FreshUnknown) {
    counters_.negative_hits.add();
    done(LookupResult::without_route(LookupOutcome::UnknownUser, "cache"));
    return;
  }
  if (auto it = in_flight_.find(key); it != in_flight_.end()) {
    counters_.coalesced.add();
    it->second.waiters.push_back(std::move(done));
    return;
  }
  counters_.misses.add();
  InFlight& flight = in_flight_[key];
  flight.user = request.user;
  flight.protocol = request.protocol;
  flight.waiters.push_back(std::move(done));
  ask(key, preferred_);
}

void HttpDirectory::ask(const std::string& key, std::size_t url_index) {
  InFlight& flight = in_flight_.at(key);
  ++flight.urls_tried;
  core::http::Request request;
  request.method = "GET";
  request.target = clients_[url_index]->origin().path +
                   "/v1/lookup?user=" + core::http::percent_encode(flight.user) +
                   "&protocol=" + directory::to_string(flight.protocol);
  clients_[url_index]->request(std::move(request),
                               [this, key, url_index](core::http::ClientResult result) {
                                 on_answer(key, url_index, std::move(result));
                               });
}

void HttpDirectory::on_answer(const std::string& key, std::size_t url_index,
                              core::http::ClientResult result) {
  if (closed_) return;
  auto it = in_flight_.find(key);
  if (it == in_flight_.end()) return;
  const std::string& url = clients_[url_index]->origin().text;
  std::string problem;
  if (!result.ok) {
    problem = result.error;
  } else if (result.response.status == 404) {
    counters_.requests_ok.add();
    preferred_ = url_index;
    cache_.store_unknown(key, core::now_ns());
    complete(key, LookupResult::without_route(LookupOutcome::UnknownUser, "directory"));
    return;
  } else if (result.response.status == 200) {
    try {
      auto answer = directory::decode_lookup_answer(nlohmann::json::parse(result.response.body));
      counters_.requests_ok.add();
      preferred_ = url_index;
      cache_.store_found(key, answer.route, std::uint64_t{answer.ttl_seconds} * kNsPerSecond,
                         core::now_ns());
      complete(key, LookupResult::found(std::move(answer.route), "directory"));
      return;
    } catch (const std::exception& error) {
      problem = std::string("unusable answer: ") + error.what();
    }
  } else {
    problem = "HTTP status " + std::to_string(result.response.status);
  }

  counters_.requests_failed.add();
  spdlog::warn("directory {}: lookup failed: {}", url, problem);
  if (it->second.urls_tried < clients_.size()) {
    ask(key, (url_index + 1) % clients_.size());
    return;
  }
  LookupCache::Hit hit = cache_.find(key, core::now_ns());
  if (hit.state == LookupCache::State::Stale) {
    counters_.stale_served.add();
    complete(key, LookupResult::found(*hit.route, "stale"));
    return;
  }
  counters_.unavailable.add();
  complete(key, LookupResult::without_route(LookupOutcome::Unavailable, "directory"));
}

void HttpDirectory::complete(const std::string& key, LookupResult result) {
  auto node = in_flight_.extract(key);
  if (node.empty()) return;
  for (auto& waiter : node.mapped().waiters) waiter(result);
}

}  // namespace podgate::proxy
