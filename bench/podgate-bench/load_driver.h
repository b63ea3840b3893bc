// Runs --logins logins and collects their outcomes. Closed loop (--rate 0):
// --concurrency logins at a time, each finished one starting the next, so the
// server's speed sets the pace. Open loop (--rate R): login i is due at i/R
// seconds whatever the server does, so queueing at the server shows up in the
// latencies; --concurrency only caps the logins in flight, and a due login
// that finds no free slot is counted late and starts as soon as one frees.
#pragma once

#include <cstdint>
#include <deque>

#include "bench/podgate-bench/credentials.h"
#include "bench/podgate-bench/login_pool.h"
#include "bench/podgate-bench/login_script.h"
#include "bench/podgate-bench/options.h"
#include "bench/podgate-bench/run_result.h"
#include "core/timer.h"

namespace podgate::bench {

class LoadDriver final : public LoginScript::Observer {
 public:
  LoadDriver(const LoginSetup& setup, const Options& options, const Credentials& credentials);

  // Runs the loop until every login is done; the phases come back sorted.
  RunResult run();

 private:
  void on_login_done(LoginScript& login) override;
  void on_schedule();
  void on_progress();
  void print_progress();

  const LoginSetup& setup_;
  const Options& options_;
  LoginPool pool_;
  core::Timer schedule_timer_;
  core::Timer progress_timer_;
  RunResult result_;
  std::uint64_t started_ns_ = 0;
  std::uint64_t due_ = 0;              // open loop: logins whose start time has come
  std::deque<std::uint64_t> waiting_;  // open loop: due times of logins waiting for a slot
  std::uint64_t done_ = 0;
  bool progress_shown_ = false;
};

}  // namespace podgate::bench
