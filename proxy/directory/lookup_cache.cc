#include "proxy/directory/lookup_cache.h"

#include <algorithm>
#include <cctype>

namespace podgate::proxy {

std::string LookupCache::key(std::string_view user, directory::Protocol protocol) {
  std::string key(directory::to_string(protocol));
  key += ' ';
  key += directory::lower_case(user);
  return key;
}

LookupCache::Hit LookupCache::find(const std::string& key, std::uint64_t now_ns) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return {};
  Entry& entry = it->second;
  if (now_ns >= entry.keep_until_ns) {
    erase(it);
    return {};
  }
  if (now_ns < entry.fresh_until_ns) {
    if (!entry.route) return {State::FreshUnknown, nullptr};
    return {State::FreshFound, &*entry.route};
  }
  return {State::Stale, &*entry.route};  // only found routes outlive freshness
}

void LookupCache::store_found(const std::string& key, directory::Route route, std::uint64_t ttl_ns,
                              std::uint64_t now_ns) {
  Entry entry;
  entry.route = std::move(route);
  entry.fresh_until_ns = now_ns + ttl_ns;
  entry.keep_until_ns = entry.fresh_until_ns + limits_.stale_ns;
  store(key, std::move(entry));
}

void LookupCache::store_unknown(const std::string& key, std::uint64_t now_ns) {
  Entry entry;
  entry.fresh_until_ns = now_ns + limits_.negative_ttl_ns;
  entry.keep_until_ns = entry.fresh_until_ns;
  store(key, std::move(entry));
}

void LookupCache::store(const std::string& key, Entry entry) {
  if (limits_.max_entries == 0) return;
  if (auto it = entries_.find(key); it != entries_.end()) erase(it);
  while (entries_.size() >= limits_.max_entries) erase(entries_.find(oldest_first_.front()));
  entry.age = oldest_first_.insert(oldest_first_.end(), key);
  entries_.emplace(key, std::move(entry));
}

void LookupCache::erase(std::unordered_map<std::string, Entry>::iterator it) {
  oldest_first_.erase(it->second.age);
  entries_.erase(it);
}

std::size_t LookupCache::forget_user(std::string_view user) {
  std::size_t dropped = 0;
  for (auto protocol :
       {directory::Protocol::Imap, directory::Protocol::Pop3, directory::Protocol::Smtp}) {
    if (auto it = entries_.find(key(user, protocol)); it != entries_.end()) {
      erase(it);
      ++dropped;
    }
  }
  return dropped;
}

SharedLookupCache::Hit SharedLookupCache::find(const std::string& key, std::uint64_t now_ns) {
  std::lock_guard lock(mutex_);
  LookupCache::Hit hit = cache_.find(key, now_ns);
  Hit copy;
  copy.state = hit.state;
  if (hit.route) copy.route = *hit.route;
  return copy;
}

void SharedLookupCache::store_found(const std::string& key, directory::Route route,
                                    std::uint64_t ttl_ns, std::uint64_t now_ns) {
  std::lock_guard lock(mutex_);
  cache_.store_found(key, std::move(route), ttl_ns, now_ns);
}

void SharedLookupCache::store_unknown(const std::string& key, std::uint64_t now_ns) {
  std::lock_guard lock(mutex_);
  cache_.store_unknown(key, now_ns);
}

std::size_t SharedLookupCache::forget_user(std::string_view user) {
  std::lock_guard lock(mutex_);
  return cache_.forget_user(user);
}

std::size_t SharedLookupCache::size() const {
  std::lock_guard lock(mutex_);
  return cache_.size();
}

}  // namespace podgate::proxy
