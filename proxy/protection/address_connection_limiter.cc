#include "proxy/protection/address_connection_limiter.h"

#include <utility>

namespace podgate::proxy {

AddressConnectionLimiter::Slot::Slot(Slot&& other) noexcept
    : limiter_(std::exchange(other.limiter_, nullptr)), key_(std::move(other.key_)) {}

AddressConnectionLimiter::Slot& AddressConnectionLimiter::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    reset();
    limiter_ = std::exchange(other.limiter_, nullptr);
    key_ = std::move(other.key_);
  }
  return *this;
}

void AddressConnectionLimiter::Slot::reset() {
  if (auto* limiter = std::exchange(limiter_, nullptr)) limiter->release(key_);
  key_.clear();
}

AddressConnectionLimiter::AddressConnectionLimiter(std::uint32_t max_per_address)
    : max_(max_per_address) {}

AddressConnectionLimiter::Admission AddressConnectionLimiter::admit(const std::string& key) {
  Admission admission;
  if (max_ == 0 || key.empty()) {
    admission.admitted = true;  // not counted: nothing to give back
    return admission;
  }
  std::lock_guard lock(mutex_);
  Entry& entry = entries_[key];
  if (entry.connections >= max_) {
    admission.first_refusal = !std::exchange(entry.refusal_reported, true);
    return admission;
  }
  ++entry.connections;
  admission.admitted = true;
  admission.slot = Slot(this, key);
  return admission;
}

void AddressConnectionLimiter::release(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto found = entries_.find(key);
  if (found == entries_.end()) return;
  Entry& entry = found->second;
  if (--entry.connections == 0) {
    entries_.erase(found);
  } else if (entry.connections < max_) {
    entry.refusal_reported = false;
  }
}

std::uint32_t AddressConnectionLimiter::count(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto found = entries_.find(key);
  return found == entries_.end() ? 0 : found->second.connections;
}

std::size_t AddressConnectionLimiter::addresses() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace podgate::proxy
