#include "core/process_signals.h"

#include <csignal>

namespace podgate::core {

ProcessSignals::ProcessSignals(uv_loop_t* loop, std::function<void()> on_stop,
                               std::function<void()> on_reload)
    : on_stop_(std::move(on_stop)), on_reload_(std::move(on_reload)) {
  const int numbers[3] = {SIGTERM, SIGINT, SIGHUP};
  for (int i = 0; i < 3; ++i) {
    uv_signal_init(loop, &handles_[i]);
    handles_[i].data = this;
    uv_signal_start(&handles_[i], on_signal, numbers[i]);
  }
}

void ProcessSignals::on_signal(uv_signal_t* handle, int number) {
  auto* self = static_cast<ProcessSignals*>(handle->data);
  if (number == SIGHUP) {
    if (self->on_reload_) self->on_reload_();
  } else if (self->on_stop_) {
    self->on_stop_();
  }
}

void ProcessSignals::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& handle : handles_) uv_close(reinterpret_cast<uv_handle_t*>(&handle), nullptr);
}

}  // namespace podgate::core
