// Everything a run measured, accumulated one login outcome at a time; the
// report and the plot are made from it. Pure: tested without a network.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench/podgate-bench/latency.h"
#include "bench/podgate-bench/login_outcome.h"
#include "bench/podgate-bench/options.h"

namespace podgate::bench {

// Seconds covered by at least one of the [start, end) intervals (monotonic
// ns): the time when any command was running, for the relay throughput.
double covered_seconds(std::vector<std::pair<std::uint64_t, std::uint64_t>> intervals);

struct RunResult {
  // What was asked for.
  std::string target;
  Protocol protocol = Protocol::Imap;
  TlsMode tls = TlsMode::Implicit;
  std::uint64_t logins = 0;
  std::uint64_t concurrency = 0;
  double rate = 0;
  bool resume = false;
  std::optional<std::uint64_t> held;  // --hold: sessions held once all were opened

  // What happened.
  std::uint64_t ok = 0;
  std::array<std::uint64_t, kErrorKindCount> errors{};
  std::uint64_t late = 0;  // open loop: slots that came due with no login free to start
  double elapsed_seconds = 0;
  std::uint64_t bytes_received = 0;  // during the command phase of successful logins
  std::uint64_t resumed = 0;
  PhaseSamples phases;  // successful logins only
  std::vector<std::pair<std::uint64_t, std::uint64_t>> command_intervals;

  void add(const LoginOutcome& outcome);
  std::uint64_t failed() const;
  double logins_per_second() const;  // successful logins per second of the run
  double command_mb_per_second() const;
};

}  // namespace podgate::bench
