// limits.max_connections: the process-wide number of open client
// connections. At the cap a listener stops accepting (libuv stops polling a
// listening socket whose connection callback did not call uv_accept), so new
// connections wait in the kernel's backlog instead of being accepted and
// dropped; they are accepted as places free up.
//
// Workers share the count, and a place freed by a session on one worker may
// be the one a paused listener on another worker is waiting for. So a worker
// whose listener finds the budget full asks to be woken (wake_on_release),
// and release() wakes every worker that asked; the wake-up only posts a task
// to that worker's loop, where the listener tries again.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

#include "core/metrics.h"

namespace podgate::proxy {

class ConnectionBudget {
 public:
  // `metrics` may be null (unit tests).
  ConnectionBudget(std::uint64_t max_connections, core::metrics::Registry* metrics);
  ConnectionBudget(const ConnectionBudget&) = delete;
  ConnectionBudget& operator=(const ConnectionBudget&) = delete;

  // Takes a place for one connection; false at the cap. Exact across
  // threads: never more than max() places are taken.
  bool try_acquire();
  // Gives a place back (the connection is gone) and wakes the waiters.
  void release();

  // Registers how to wake one worker: `wake` may be called on any thread and
  // must only schedule work on the worker's loop. Start-up only, before any
  // worker runs. Returns the waiter's number.
  std::size_t add_waiter(std::function<void()> wake);
  // Waiter `waiter` found the budget full: wake it at the next release().
  // The caller must then try_acquire() once more, since a place freed between
  // its failed try and this call woke nobody.
  void wake_on_release(std::size_t waiter);

  // A listener stopped accepting at the cap, or started again. The first
  // pause of an episode is logged (and counted); the episode's end is logged
  // once no listener is paused and the open connections fell to 90% of the
  // cap, so that a busy server hovering at the cap does not log per
  // connection.
  void listener_paused();
  void listener_resumed();

  std::uint64_t open() const { return open_.load(); }
  std::uint64_t max() const { return max_; }
  std::int64_t paused_listeners() const { return paused_listeners_.load(); }

 private:
  struct Waiter {
    std::function<void()> wake;
    std::atomic<bool> asleep{false};
  };
  void maybe_end_episode();

  const std::uint64_t max_;
  const std::uint64_t low_water_;
  std::atomic<std::uint64_t> open_{0};
  std::deque<Waiter> waiters_;  // deque: a Waiter's atomic never moves
  std::atomic<std::int64_t> paused_listeners_{0};
  std::atomic<bool> in_episode_{false};
  core::metrics::Counter* episodes_ = nullptr;
  core::metrics::Gauge* paused_gauge_ = nullptr;
};

}  // namespace podgate::proxy
