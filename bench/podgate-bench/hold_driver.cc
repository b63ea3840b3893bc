#include "bench/podgate-bench/hold_driver.h"

#include <cstdio>

namespace podgate::bench {

HoldDriver::HoldDriver(const LoginSetup& setup, const Options& options,
                       const Credentials& credentials,
                       std::function<void(const RunResult&)> on_held)
    : setup_(setup),
      options_(options),
      pool_(setup, credentials, options.concurrency, options.resume),
      on_held_(std::move(on_held)),
      signals_(
          setup.loop, [this] { stop(); }, [] {}),
      hold_timer_(
          setup.loop, [this] { stop(); }, [] {}) {
  result_.logins = options.hold;
  result_.target = setup.target.text();
  result_.protocol = setup.protocol;
  result_.tls = setup.plan.tls;
  result_.concurrency = options.concurrency;
  result_.resume = options.resume;
}

RunResult HoldDriver::run() {
  started_ns_ = core::now_ns();
  start_more();
  uv_run(setup_.loop, UV_RUN_DEFAULT);
  return std::move(result_);
}

void HoldDriver::start_more() {
  while (!stopping_ && pool_.started() < options_.hold && pool_.has_free_slot()) {
    pool_.start(*this);
  }
}

void HoldDriver::on_login_holding(LoginScript& login) {
  ++held_;
  result_.add(login.outcome());
  pool_.release_slot(login);
  start_more();
  announce_if_complete();
}

void HoldDriver::on_login_done(LoginScript& login) {
  LoginOutcome outcome = login.outcome();
  pool_.remove(login);
  if (stopping_) {
    // Sessions we closed ourselves, held or still opening: nothing to count.
    if (pool_.empty()) {
      signals_.close();
      hold_timer_.close();
    }
    return;
  }
  if (outcome.ok) {
    ++dropped_;
    std::fprintf(stderr, "podgate-bench: the server closed a held session (%llu so far)\n",
                 static_cast<unsigned long long>(dropped_));
    return;
  }
  result_.add(outcome);
  start_more();
  announce_if_complete();
}

void HoldDriver::announce_if_complete() {
  if (announced_ || held_ + result_.failed() < options_.hold) return;
  announced_ = true;
  result_.elapsed_seconds = static_cast<double>(core::now_ns() - started_ns_) / 1e9;
  result_.held = held_;
  result_.phases.sort();
  on_held_(result_);
  if (held_ == 0) {
    stop();  // nothing to hold: waiting for a signal would wait for ever
  } else if (options_.hold_seconds > 0) {
    hold_timer_.start(options_.hold_seconds * 1000);
  }
}

void HoldDriver::stop() {
  if (stopping_) return;
  stopping_ = true;
  pool_.stop_all();
  if (pool_.empty()) {
    signals_.close();
    hold_timer_.close();
  }
}

}  // namespace podgate::bench
