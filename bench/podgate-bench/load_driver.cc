#include "bench/podgate-bench/load_driver.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bench/podgate-bench/report.h"

namespace podgate::bench {

namespace {
constexpr std::uint64_t kProgressIntervalMs = 1000;
}  // namespace

LoadDriver::LoadDriver(const LoginSetup& setup, const Options& options,
                       const Credentials& credentials)
    : setup_(setup),
      options_(options),
      pool_(setup, credentials, options.concurrency, options.resume),
      schedule_timer_(
          setup.loop, [this] { on_schedule(); }, [] {}),
      progress_timer_(
          setup.loop, [this] { on_progress(); }, [] {}) {
  result_.logins = options.logins;
  result_.target = setup.target.text();
  result_.protocol = setup.protocol;
  result_.tls = setup.plan.tls;
  result_.concurrency = options.concurrency;
  result_.rate = options.rate;
  result_.resume = options.resume;
}

RunResult LoadDriver::run() {
  started_ns_ = core::now_ns();
  if (options_.quiet) {
    progress_timer_.close();
  } else {
    progress_timer_.start(kProgressIntervalMs);
  }
  if (options_.rate > 0) {
    on_schedule();
  } else {
    schedule_timer_.close();
    while (pool_.started() < options_.logins && pool_.has_free_slot()) pool_.start(*this);
  }
  uv_run(setup_.loop, UV_RUN_DEFAULT);
  if (progress_shown_) std::fputc('\n', stderr);
  result_.phases.sort();
  return std::move(result_);
}

void LoadDriver::on_schedule() {
  double elapsed = static_cast<double>(core::now_ns() - started_ns_) / 1e9;
  // Login i is due at i / rate seconds after the start.
  auto now_due = static_cast<std::uint64_t>(std::floor(elapsed * options_.rate)) + 1;
  now_due = std::min(now_due, options_.logins);
  for (; due_ < now_due; ++due_) {
    auto due_ns =
        started_ns_ + static_cast<std::uint64_t>(static_cast<double>(due_) * 1e9 / options_.rate);
    if (pool_.has_free_slot()) {
      pool_.start(*this, due_ns);
    } else {
      ++result_.late;
      waiting_.push_back(due_ns);
    }
  }
  if (due_ == options_.logins) {
    schedule_timer_.close();
    return;
  }
  double next_due = static_cast<double>(due_) / options_.rate;
  double wait_ms = std::ceil((next_due - elapsed) * 1000);
  schedule_timer_.start(static_cast<std::uint64_t>(std::max(wait_ms, 1.0)));
}

void LoadDriver::on_login_done(LoginScript& login) {
  result_.add(login.outcome());
  pool_.remove(login);
  ++done_;
  if (!waiting_.empty()) {
    std::uint64_t due_ns = waiting_.front();
    waiting_.pop_front();
    pool_.start(*this, due_ns);
  } else if (options_.rate == 0 && pool_.started() < options_.logins) {
    pool_.start(*this);
  }
  if (done_ == options_.logins) {
    result_.elapsed_seconds = static_cast<double>(core::now_ns() - started_ns_) / 1e9;
    progress_timer_.close();
  }
}

void LoadDriver::on_progress() {
  print_progress();
  progress_timer_.start(kProgressIntervalMs);
}

void LoadDriver::print_progress() {
  double elapsed = static_cast<double>(core::now_ns() - started_ns_) / 1e9;
  std::string line = progress_text(done_, options_.logins, result_.ok, result_.failed(), elapsed);
  std::fprintf(stderr, "\r%s", line.c_str());
  std::fflush(stderr);
  progress_shown_ = true;
}

}  // namespace podgate::bench
