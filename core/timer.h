// A one-shot libuv timer owned by one object. close() is idempotent and the
// closed callback is the timer's last call, after which the owner may free it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>

namespace podgate::core {

class Timer {
 public:
  Timer(uv_loop_t* loop, std::function<void()> on_fire, std::function<void()> on_closed);
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void start(std::uint64_t milliseconds);  // restarts if running
  void stop();
  void close();

 private:
  static void on_timer(uv_timer_t* handle);
  static void on_close(uv_handle_t* handle);

  uv_timer_t timer_;
  std::function<void()> on_fire_;
  std::function<void()> on_closed_;
};

// Monotonic nanoseconds, for phase durations.
inline std::uint64_t now_ns() {
  return uv_hrtime();
}

}  // namespace podgate::core
