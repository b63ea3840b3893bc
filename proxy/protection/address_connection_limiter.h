// limits.max_connections_per_address: open client connections per client
// address key (see address_key.h), counted across all workers, because
// SO_REUSEPORT spreads one client's connections over them. A small map
// under a mutex: an entry exists only while its address has a connection,
// so the map is never larger than the number of open connections.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace podgate::proxy {

class AddressConnectionLimiter {
 public:
  // One admitted connection; gives its place back when destroyed or reset.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { reset(); }

    explicit operator bool() const { return limiter_ != nullptr; }
    void reset();

   private:
    friend class AddressConnectionLimiter;
    Slot(AddressConnectionLimiter* limiter, std::string key)
        : limiter_(limiter), key_(std::move(key)) {}
    AddressConnectionLimiter* limiter_ = nullptr;
    std::string key_;
  };

  struct Admission {
    bool admitted = false;
    Slot slot;  // holds the counted place (empty when not counted or not admitted)
    // The first refusal since the address was last under its limit: worth
    // one log line (later ones would flood the log during an attack).
    bool first_refusal = false;
  };

  // 0: no limit (all clients arrive from one address, e.g. behind a balancer).
  explicit AddressConnectionLimiter(std::uint32_t max_per_address);
  AddressConnectionLimiter(const AddressConnectionLimiter&) = delete;
  AddressConnectionLimiter& operator=(const AddressConnectionLimiter&) = delete;

  // Counts one more connection from `key`, unless it already has the maximum.
  // An empty key (an address of no IP family) is not limited.
  Admission admit(const std::string& key);

  std::uint32_t count(const std::string& key) const;
  std::size_t addresses() const;  // keys with at least one connection
  std::uint32_t max_per_address() const { return max_; }

 private:
  struct Entry {
    std::uint32_t connections = 0;
    bool refusal_reported = false;
  };
  void release(const std::string& key);

  const std::uint32_t max_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace podgate::proxy
