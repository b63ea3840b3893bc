// Latency samples per login phase and their percentiles. Pure: no clock, no
// I/O, so the statistics are tested on known sample sets.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace podgate::bench {

// The timed steps of one login, in the order they happen; Total spans them all.
// Queue (open loop only) is how long a login waited past its due time for a
// free slot (or for the bench's own millisecond timer and loop); Total then counts from the due
// time, so a server that falls behind shows it in the latency, not only in a lower rate.
enum class Phase { Queue, Connect, Tls, Greeting, Auth, Command, Logout, Total };
inline constexpr std::size_t kPhaseCount = 8;
inline constexpr std::array<Phase, kPhaseCount> kAllPhases = {
    Phase::Queue, Phase::Connect, Phase::Tls,    Phase::Greeting,
    Phase::Auth,  Phase::Command, Phase::Logout, Phase::Total};

// "connect", "tls", ...: the names used in the report and the plot.
const char* phase_name(Phase phase);

struct LatencySummary {
  std::uint64_t count = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double p999 = 0;
  double max = 0;
};

// Nearest-rank percentile of ascending samples: the smallest sample with at
// least `per_mille`/1000 of all samples at or below it. Integer ranks, so
// p99 of 1..1000 is exactly 990 (no floating-point rounding of the rank).
double percentile(const std::vector<double>& sorted, unsigned per_mille);
LatencySummary summarize(const std::vector<double>& sorted);

// Milliseconds per phase, one sample per successful login.
struct PhaseSamples {
  std::array<std::vector<double>, kPhaseCount> by_phase;

  void add(Phase phase, double ms) { by_phase[static_cast<std::size_t>(phase)].push_back(ms); }
  const std::vector<double>& of(Phase phase) const {
    return by_phase[static_cast<std::size_t>(phase)];
  }
  // Percentiles and the plot need ascending samples: sort once, after the run.
  void sort();
};

}  // namespace podgate::bench
