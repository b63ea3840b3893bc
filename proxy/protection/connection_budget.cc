#include "proxy/protection/connection_budget.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace podgate::proxy {

ConnectionBudget::ConnectionBudget(std::uint64_t max_connections, core::metrics::Registry* metrics)
    : max_(max_connections), low_water_(max_connections * 9 / 10) {
  if (metrics) {
    episodes_ = &metrics->counter(
        "podgate_connection_limit_reached_total",
        "Times the open client connections reached limits.max_connections and accepting paused");
    paused_gauge_ = &metrics->gauge(
        "podgate_listeners_paused",
        "Listening sockets (per worker) not accepting now because of limits.max_connections");
  }
}

bool ConnectionBudget::try_acquire() {
  // A compare-and-swap rather than add-then-undo: an add that is undone
  // would make a concurrent try on another worker fail below the cap.
  std::uint64_t open = open_.load();
  while (open < max_) {
    if (open_.compare_exchange_weak(open, open + 1)) return true;
  }
  return false;
}

void ConnectionBudget::release() {
  open_.fetch_sub(1);
  // Sequentially consistent with wake_on_release(): either a waiter's
  // second try sees this place, or this loop sees its flag.
  for (Waiter& waiter : waiters_) {
    if (waiter.asleep.load() && waiter.asleep.exchange(false)) waiter.wake();
  }
  if (in_episode_.load()) maybe_end_episode();
}

std::size_t ConnectionBudget::add_waiter(std::function<void()> wake) {
  waiters_.emplace_back().wake = std::move(wake);
  return waiters_.size() - 1;
}

void ConnectionBudget::wake_on_release(std::size_t waiter) {
  waiters_.at(waiter).asleep.store(true);
}

void ConnectionBudget::listener_paused() {
  paused_listeners_.fetch_add(1);
  if (paused_gauge_) paused_gauge_->add();
  if (!in_episode_.exchange(true)) {
    if (episodes_) episodes_->add();
    spdlog::warn(
        "{} client connections open: limits.max_connections reached; new connections wait "
        "in the listen backlog until some close",
        max_);
  }
}

void ConnectionBudget::listener_resumed() {
  paused_listeners_.fetch_sub(1);
  if (paused_gauge_) paused_gauge_->sub();
  maybe_end_episode();
}

void ConnectionBudget::maybe_end_episode() {
  if (paused_listeners_.load() > 0 || open_.load() > low_water_) return;
  if (in_episode_.exchange(false)) {
    spdlog::info("{} client connections open (limits.max_connections {}): accepting normally again",
                 open_.load(), max_);
  }
}

}  // namespace podgate::proxy
