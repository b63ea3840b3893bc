// Lookups against podgate-directory servers (GET /v1/lookup), for podgate
// instances that share one view of where users live:
//  - a keep-alive connection pool per URL and a deadline per request;
//  - the URLs in order, starting with the one that answered last; a URL
//    that fails (no connection, timeout, 5xx, an answer that does not
//    parse) passes the lookup to the next;
//  - answers cached for their TTL, "unknown user" for a short negative TTL;
//  - lookups for a user already on the way wait for that one request;
//  - when no URL answers, a route whose TTL ran out is still served (and
//    counted) rather than locking the user out.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/http/http_client.h"
#include "core/metrics.h"
#include "proxy/config.h"
#include "proxy/directory/directory_client.h"
#include "proxy/directory/directory_http_options.h"
#include "proxy/directory/lookup_cache.h"

namespace podgate::proxy {

class HttpDirectory : public DirectoryClient {
 public:
  // `cache`: shared with the other workers' clients (see make_cache); none:
  // a cache of its own.
  HttpDirectory(uv_loop_t* loop, const DirectoryConfig& config, core::metrics::Registry& metrics,
                std::shared_ptr<SharedLookupCache> cache = nullptr);
  static std::shared_ptr<SharedLookupCache> make_cache(const DirectoryConfig& config);
  ~HttpDirectory() override;

  void lookup(const LookupRequest& request, LookupDone done) override;
  void forget(const std::string& user) override;
  void close() override;

 private:
  struct InFlight {
    std::string user;
    directory::Protocol protocol;
    std::vector<LookupDone> waiters;
    std::size_t urls_tried = 0;
    // forget() ran while the answer was on its way: it may predate a move.
    bool forgotten = false;
  };
  void ask(const std::string& key, std::size_t url_index);
  void on_answer(const std::string& key, std::size_t url_index, core::http::ClientResult result);
  void complete(const std::string& key, LookupResult result);
  // Where to send lookups: the path of the URL without a trailing '/'.
  std::string lookup_target(std::size_t url_index, const InFlight& flight) const;

  struct Counters {
    core::metrics::Counter& cache_hits;
    core::metrics::Counter& negative_hits;
    core::metrics::Counter& misses;
    core::metrics::Counter& coalesced;
    core::metrics::Counter& stale_served;
    core::metrics::Counter& unavailable;
    core::metrics::Counter& requests_ok;
    core::metrics::Counter& requests_failed;
  };

  std::vector<std::unique_ptr<core::http::Client>> clients_;
  std::size_t preferred_ = 0;
  std::shared_ptr<SharedLookupCache> cache_;
  std::unordered_map<std::string, InFlight> in_flight_;
  Counters counters_;
  bool closed_ = false;
};

}  // namespace podgate::proxy
