#include "proxy/directory/http_directory.h"

#include <spdlog/spdlog.h>

#include "core/timer.h"
#include "proxy/directory/directory_answers.h"

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

std::shared_ptr<SharedLookupCache> HttpDirectory::make_cache(const DirectoryConfig& config) {
  return std::make_shared<SharedLookupCache>(cache_limits(config));
}

HttpDirectory::HttpDirectory(uv_loop_t* loop, const DirectoryConfig& config,
                             core::metrics::Registry& metrics,
                             std::shared_ptr<SharedLookupCache> cache)
    : cache_(cache ? std::move(cache) : make_cache(config)),
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
  for (const auto& url : config.urls) {
    clients_.push_back(std::make_unique<core::http::Client>(loop, core::http::parse_url(url),
                                                            client_options(config)));
  }
  metrics.gauge_callback("podgate_directory_client_cache_entries",
                         "Directory answers held in the cache", "",
                         [cache = cache_] { return static_cast<double>(cache->size()); });
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
  cache_->forget_user(user);
  for (auto protocol :
       {directory::Protocol::Imap, directory::Protocol::Pop3, directory::Protocol::Smtp}) {
    if (auto it = in_flight_.find(LookupCache::key(user, protocol)); it != in_flight_.end()) {
      it->second.forgotten = true;
    }
  }
}

void HttpDirectory::lookup(const LookupRequest& request, LookupDone done) {
  std::string key = LookupCache::key(request.user, request.protocol);
  SharedLookupCache::Hit hit = cache_->find(key, core::now_ns());
  if (hit.state == LookupCache::State::FreshFound) {
    counters_.cache_hits.add();
    done(LookupResult::found(*hit.route, "cache"));
    return;
  }
  if (hit.state == LookupCache::State::FreshUnknown) {
    counters_.negative_hits.add();
    done(LookupResult::without_route(LoginOutcome::UnknownUser, "cache"));
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
  request.target = lookup_target(url_index, flight);
  clients_[url_index]->request(std::move(request),
                               [this, key, url_index](core::http::ClientResult result) {
                                 on_answer(key, url_index, std::move(result));
                               });
}

std::string HttpDirectory::lookup_target(std::size_t url_index, const InFlight& flight) const {
  std::string base = clients_[url_index]->origin().path;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/v1/lookup?user=" + core::http::percent_encode(flight.user) +
         "&protocol=" + directory::to_string(flight.protocol);
}

void HttpDirectory::on_answer(const std::string& key, std::size_t url_index,
                              core::http::ClientResult result) {
  if (closed_) return;
  auto it = in_flight_.find(key);
  if (it == in_flight_.end()) return;
  const std::string& url = clients_[url_index]->origin().text;
  InFlight& flight = it->second;
  DirectoryAnswer answer;
  if (result.ok) {
    answer = interpret_directory_answer(result.response);
  } else {
    answer.problem = std::move(result.error);  // stays Failed
  }
  if (answer.kind == DirectoryAnswer::Kind::UnknownUser) {
    counters_.requests_ok.add();
    preferred_ = url_index;
    if (!flight.forgotten) cache_->store_unknown(key, core::now_ns());
    complete(key, LookupResult::without_route(LoginOutcome::UnknownUser, "directory"));
    return;
  } else if (answer.kind == DirectoryAnswer::Kind::UnusableName) {
    // The directory cannot use this user name (too long, not UTF-8...):
    // asking the next URL would not help, and it is no outage.
    counters_.requests_ok.add();
    spdlog::warn("directory {}: refused the lookup of a user name ({} bytes)", url,
                 flight.user.size());
    complete(key, LookupResult::without_route(LoginOutcome::UnknownUser, "directory"));
    return;
  } else if (answer.kind == DirectoryAnswer::Kind::Found) {
    counters_.requests_ok.add();
    preferred_ = url_index;
    // "No server available" is not remembered: the next probe may see the
    // pod back, and the next login should hear of it.
    if (!flight.forgotten && !answer.lookup.route.servers.empty()) {
      cache_->store_found(key, answer.lookup.route,
                          std::uint64_t{answer.lookup.ttl_seconds} * kNsPerSecond, core::now_ns());
    }
    complete(key, LookupResult::found(std::move(answer.lookup.route), "directory"));
    return;
  }
  const std::string& problem = answer.problem;

  counters_.requests_failed.add();
  spdlog::warn("directory {}: lookup failed: {}", url, problem);
  if (flight.urls_tried < clients_.size()) {
    ask(key, (url_index + 1) % clients_.size());
    return;
  }
  SharedLookupCache::Hit hit = cache_->find(key, core::now_ns());
  if (hit.state == LookupCache::State::Stale) {
    counters_.stale_served.add();
    complete(key, LookupResult::found(*hit.route, "stale"));
    return;
  }
  counters_.unavailable.add();
  complete(key, LookupResult::without_route(LoginOutcome::DirectoryUnavailable, "directory"));
}

void HttpDirectory::complete(const std::string& key, LookupResult result) {
  auto node = in_flight_.extract(key);
  if (node.empty()) return;
  // Every waiter gets the same answer; a podgate-directory answer never
  // carries credentials, so a route and a reason are all there is to copy.
  for (auto& waiter : node.mapped().waiters) {
    waiter(result.route ? LookupResult::found(*result.route, result.source)
                        : LookupResult::without_route(result.failure, result.source));
  }
}

}  // namespace podgate::proxy
