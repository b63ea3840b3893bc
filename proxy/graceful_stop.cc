#include "proxy/graceful_stop.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace podgate::proxy {

GracefulStop::GracefulStop(uv_loop_t* loop,
                           const std::vector<std::unique_ptr<WorkerThread>>& workers,
                           std::function<void()> done)
    : workers_(workers),
      done_(std::move(done)),
      window_(
          loop,
          [this] {
            spdlog::info("drain window over: closing the sessions still open");
            shut_down_everything();
          },
          [] {}) {
  uv_async_init(loop, &worker_ended_, &GracefulStop::on_worker_ended);
  worker_ended_.data = this;
}

void GracefulStop::worker_loop_ended() {
  uv_async_send(&worker_ended_);
}

void GracefulStop::begin(std::uint32_t drain_seconds) {
  if (begun_) return;
  begun_ = true;
  if (drain_seconds == 0) {
    spdlog::info("stopping: closing listeners and sessions");
    shut_down_everything();
    return;
  }
  std::size_t draining = 0;
  for (const auto& worker : workers_) draining += worker->drain();
  if (draining == 0) {
    spdlog::info("stopping: listeners closed; no logged-in session to wait for");
  } else {
    spdlog::info(
        "stopping: listeners and sessions not logged in closed; draining {} logged-in sessions "
        "for up to {} s",
        draining, drain_seconds);
  }
  // Also with nothing to drain: sessions closing still have to flush.
  window_.start(std::uint64_t{drain_seconds} * 1000);
}

void GracefulStop::hurry() {
  if (!begun_ || hurried_ || finished_) return;
  spdlog::info("stopping now: closing the sessions still open");
  shut_down_everything();
}

void GracefulStop::shut_down_everything() {
  hurried_ = true;
  window_.stop();
  for (const auto& worker : workers_) worker->stop();
}

void GracefulStop::on_worker_ended(uv_async_t* handle) {
  auto* self = static_cast<GracefulStop*>(handle->data);
  if (self->finished_) return;
  // Wake-ups coalesce: count the workers that ended, not the wake-ups.
  for (const auto& worker : self->workers_) {
    if (!worker->ended()) return;
  }
  // A worker says it ended just before it wakes us: joining it makes sure
  // that wake-up is done before done_() lets the handle close.
  for (const auto& worker : self->workers_) worker->join();
  self->finished_ = true;
  self->window_.stop();
  self->done_();
}

void GracefulStop::close() {
  if (closed_) return;
  closed_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&worker_ended_), nullptr);
  window_.close();
}

}  // namespace podgate::proxy
