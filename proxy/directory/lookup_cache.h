// The HTTP directory client's memory of earlier answers, keyed by user and
// protocol. Pure (time is passed in), bounded, and unit-tested:
//  - a found route is fresh for the TTL the directory gave it, then stale;
//    stale routes are kept `stale_ns` longer, to be served only while no
//    directory answers;
//  - "unknown user" is remembered for a short negative TTL (never stale);
//  - at `max_entries` the least recently stored entry is dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "backend-directory/directory.h"

namespace podgate::proxy {

struct LookupCacheLimits {
  std::size_t max_entries = 100000;
  std::uint64_t negative_ttl_ns = 5'000'000'000;
  std::uint64_t stale_ns = 3600'000'000'000;
};

class LookupCache {
 public:
  enum class State { Missing, FreshFound, FreshUnknown, Stale };
  struct Hit {
    State state = State::Missing;
    const directory::Route* route = nullptr;  // FreshFound and Stale
  };

  explicit LookupCache(LookupCacheLimits limits) : limits_(limits) {}

  static std::string key(std::string_view user, directory::Protocol protocol);

  Hit find(const std::string& key, std::uint64_t now_ns);
  void store_found(const std::string& key, directory::Route route, std::uint64_t ttl_ns,
                   std::uint64_t now_ns);
  void store_unknown(const std::string& key, std::uint64_t now_ns);
  // Every protocol's entry for the user. Returns how many were dropped.
  std::size_t forget_user(std::string_view user);
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::optional<directory::Route> route;  // empty: unknown user
    std::uint64_t fresh_until_ns = 0;
    std::uint64_t keep_until_ns = 0;
    std::list<std::string>::iterator age{};  // position in oldest_first_
  };
  void store(const std::string& key, Entry entry);
  void erase(std::unordered_map<std::string, Entry>::iterator it);

  LookupCacheLimits limits_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> oldest_first_;
};

// The cache as the directory clients of all worker threads share it, so
// that one answer serves every worker: the same calls, under a lock, and
// a hit hands out a copy of the route rather than a pointer into the table.
class SharedLookupCache {
 public:
  struct Hit {
    LookupCache::State state = LookupCache::State::Missing;
    std::optional<directory::Route> route;  // FreshFound and Stale
  };

  explicit SharedLookupCache(LookupCacheLimits limits) : cache_(limits) {}

  Hit find(const std::string& key, std::uint64_t now_ns);
  void store_found(const std::string& key, directory::Route route, std::uint64_t ttl_ns,
                   std::uint64_t now_ns);
  void store_unknown(const std::string& key, std::uint64_t now_ns);
  std::size_t forget_user(std::string_view user);
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  LookupCache cache_;
};

}  // namespace podgate::proxy
