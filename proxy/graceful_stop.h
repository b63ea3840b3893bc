// How podgate stops on SIGTERM/SIGINT, run from the control loop. Every
// worker stops accepting at once and closes the sessions that have not
// logged in; logged-in sessions get a drain window (timeouts.drain_seconds)
// to end by themselves. When the window is over, or on a second signal,
// whatever is left is shut down. `done` runs on the control loop once every
// worker's loop has ended, which may be long before the window is over.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/timer.h"
#include "proxy/worker_thread.h"

namespace podgate::proxy {

class GracefulStop {
 public:
  GracefulStop(uv_loop_t* loop, const std::vector<std::unique_ptr<WorkerThread>>& workers,
               std::function<void()> done);
  GracefulStop(const GracefulStop&) = delete;
  GracefulStop& operator=(const GracefulStop&) = delete;

  // For WorkerThread::Shared::loop_ended: tells the control loop, from any
  // thread, that one more worker has ended.
  void worker_loop_ended();
  // The first stop signal. drain_seconds 0 closes everything at once.
  void begin(std::uint32_t drain_seconds);
  // No more waiting (a second signal): shut down every session now.
  void hurry();
  // Must be closed, and the loop run, before destruction. Idempotent.
  void close();

 private:
  static void on_worker_ended(uv_async_t* handle);
  void shut_down_everything();

  const std::vector<std::unique_ptr<WorkerThread>>& workers_;
  std::function<void()> done_;
  uv_async_t worker_ended_;
  core::Timer window_;
  bool begun_ = false;
  bool hurried_ = false;
  bool finished_ = false;
  bool closed_ = false;
};

}  // namespace podgate::proxy
