// The signals a daemon answers, on its libuv loop: SIGTERM and SIGINT stop
// it, SIGHUP reloads. The handlers run on the loop thread, so they may touch
// anything the loop owns.
#pragma once

#include <uv.h>

#include <functional>

namespace podgate::core {

class ProcessSignals {
 public:
  ProcessSignals(uv_loop_t* loop, std::function<void()> on_stop, std::function<void()> on_reload);
  ProcessSignals(const ProcessSignals&) = delete;
  ProcessSignals& operator=(const ProcessSignals&) = delete;
  // Must be closed, and the loop run, before destruction. Idempotent.
  void close();

 private:
  static void on_signal(uv_signal_t* handle, int number);

  std::function<void()> on_stop_;
  std::function<void()> on_reload_;
  uv_signal_t handles_[3];  // SIGTERM, SIGINT, SIGHUP
  bool closed_ = false;
};

}  // namespace podgate::core
