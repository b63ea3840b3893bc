// --hold N: opens N logged-in IMAP sessions, --concurrency at a time, each
// idling (IDLE answered by "+"), and keeps them open until SIGINT/SIGTERM or
// --hold-seconds. Once every session is either held or failed, `on_held`
// hears the result (the caller prints "holding M sessions"); at the end
// every held session is closed cleanly.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "bench/podgate-bench/credentials.h"
#include "bench/podgate-bench/login_pool.h"
#include "bench/podgate-bench/login_script.h"
#include "bench/podgate-bench/options.h"
#include "bench/podgate-bench/run_result.h"
#include "core/process_signals.h"
#include "core/timer.h"

namespace podgate::bench {

class HoldDriver final : public LoginScript::Observer {
 public:
  HoldDriver(const LoginSetup& setup, const Options& options, const Credentials& credentials,
             std::function<void(const RunResult&)> on_held);

  // Runs the loop until the sessions are closed again. The result is the one
  // `on_held` saw, plus the sessions the server closed while they were held.
  RunResult run();
  std::uint64_t dropped() const { return dropped_; }

 private:
  void on_login_holding(LoginScript& login) override;
  void on_login_done(LoginScript& login) override;
  void start_more();
  void announce_if_complete();
  void stop();

  const LoginSetup& setup_;
  const Options& options_;
  LoginPool pool_;
  std::function<void(const RunResult&)> on_held_;
  core::ProcessSignals signals_;
  core::Timer hold_timer_;
  RunResult result_;
  std::uint64_t started_ns_ = 0;
  std::uint64_t held_ = 0;
  std::uint64_t dropped_ = 0;  // held sessions the server closed
  bool announced_ = false;
  bool stopping_ = false;
};

}  // namespace podgate::bench
