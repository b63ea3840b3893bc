#include "core/timer.h"

#include <utility>

namespace podgate::core {

Timer::Timer(uv_loop_t* loop, std::function<void()> on_fire, std::function<void()> on_closed)
    : on_fire_(std::move(on_fire)), on_closed_(std::move(on_closed)) {
  uv_timer_init(loop, &timer_);
  timer_.data = this;
}

void Timer::start(std::uint64_t milliseconds) {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer_))) return;
  uv_timer_start(&timer_, &Timer::on_timer, milliseconds, 0);
}

void Timer::stop() {
  uv_timer_stop(&timer_);
}

void Timer::close() {
  auto* handle = reinterpret_cast<uv_handle_t*>(&timer_);
  if (!uv_is_closing(handle)) uv_close(handle, &Timer::on_close);
}

void Timer::on_timer(uv_timer_t* handle) {
  static_cast<Timer*>(handle->data)->on_fire_();
}

void Timer::on_close(uv_handle_t* handle) {
  static_cast<Timer*>(handle->data)->on_closed_();
}

}  // namespace podgate::core
