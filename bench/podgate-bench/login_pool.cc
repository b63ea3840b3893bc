#include "bench/podgate-bench/login_pool.h"

#include <utility>

namespace podgate::bench {

LoginPool::LoginPool(const LoginSetup& setup, const Credentials& credentials, std::uint64_t slots,
                     bool resume)
    : setup_(setup), credentials_(credentials), resume_(resume), slots_(new SessionSlot[slots]) {
  free_.reserve(slots);
  for (std::uint64_t i = slots; i > 0; --i) free_.push_back(&slots_[i - 1]);
}

void LoginPool::start(LoginScript::Observer& observer, std::uint64_t due_ns) {
  SessionSlot* slot = free_.back();
  free_.pop_back();
  auto script = std::make_unique<LoginScript>(setup_, observer, credentials_.for_login(started_++),
                                              resume_ ? slot : nullptr);
  LoginScript& login = *script;
  live_.emplace(&login, Entry{std::move(script), slot});
  login.start(due_ns);
}

void LoginPool::release_slot(LoginScript& login) {
  Entry& entry = live_.at(&login);
  if (entry.slot != nullptr) free_.push_back(std::exchange(entry.slot, nullptr));
}

void LoginPool::remove(LoginScript& login) {
  // Those retired earlier have returned from their callbacks by now.
  retired_.clear();
  release_slot(login);
  auto entry = live_.find(&login);
  retired_.push_back(std::move(entry->second.script));
  live_.erase(entry);
}

void LoginPool::stop_all() {
  for (auto& [login, entry] : live_) login->stop();
}

}  // namespace podgate::bench
