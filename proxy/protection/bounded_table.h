// A map from text keys to values that never holds more than `capacity`
// entries: inserting into a full table evicts the entry used least recently.
// The login guard keeps its counters in these, so an attacker who makes up
// endless addresses or user names costs a fixed amount of memory. Entries
// `Pinned` says must stay (lockouts in force) are passed over while a few of
// the oldest entries are not, so flooding the table does not lift a lock.
// Not thread-safe; the owner locks.
#pragma once

#include <cstddef>
#include <iterator>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>

namespace podgate::proxy {

struct NeverPinned {
  template <typename Value>
  bool operator()(const Value&) const {
    return false;
  }
};

template <typename Value, typename Pinned = NeverPinned>
class BoundedTable {
 public:
  explicit BoundedTable(std::size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

  // The entry, now the most recently used; nullptr if absent.
  Value* find(const std::string& key) {
    auto found = index_.find(key);
    if (found == index_.end()) return nullptr;
    recency_.splice(recency_.begin(), recency_, found->second);
    return &found->second->second;
  }

  // The entry, made with Value{} if absent (evicting the least recently used
  // one of a full table).
  Value& get(const std::string& key) {
    if (Value* value = find(key)) return *value;
    while (index_.size() >= capacity_) evict_oldest();
    recency_.emplace_front(key, Value{});
    index_.emplace(key, recency_.begin());
    return recency_.front().second;
  }

  void erase(const std::string& key) {
    auto found = index_.find(key);
    if (found == index_.end()) return;
    recency_.erase(found->second);
    index_.erase(found);
  }

  // Looks at up to `max` of the least recently used entries, oldest first,
  // and erases those for which `stale(value)` holds (passing over the
  // others): what nobody used for a while goes without waiting for a flood
  // to push it out.
  template <typename Stale>
  std::size_t erase_stale(Stale&& stale, std::size_t max) {
    std::size_t erased = 0;
    auto it = recency_.end();
    for (std::size_t looked = 0; looked < max && it != recency_.begin(); ++looked) {
      --it;
      if (stale(it->second)) {
        index_.erase(it->first);
        it = recency_.erase(it);
        ++erased;
      }
    }
    return erased;
  }

  // A smaller capacity (after a reload) evicts at once.
  void set_capacity(std::size_t capacity) {
    capacity_ = capacity < 1 ? 1 : capacity;
    while (index_.size() > capacity_) evict_oldest();
  }

  std::size_t size() const { return index_.size(); }
  std::size_t capacity() const { return capacity_; }

 private:
  using Entry = std::pair<std::string, Value>;

  // The oldest entry that is not pinned among the last few; the oldest of
  // all if they are all pinned (the bound on memory comes first).
  void evict_oldest() {
    constexpr int kPinnedPassedOver = 16;
    auto victim = std::prev(recency_.end());
    auto candidate = victim;
    for (int looked = 0; looked < kPinnedPassedOver; ++looked) {
      if (!Pinned{}(candidate->second)) {
        victim = candidate;
        break;
      }
      if (candidate == recency_.begin()) break;
      --candidate;
    }
    index_.erase(victim->first);
    recency_.erase(victim);
  }

  std::size_t capacity_;
  std::list<Entry> recency_;  // most recently used first
  std::unordered_map<std::string, typename std::list<Entry>::iterator> index_;
};

}  // namespace podgate::proxy
