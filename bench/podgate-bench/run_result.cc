#include "bench/podgate-bench/run_result.h"

#include <algorithm>
#include <numeric>

namespace podgate::bench {

double covered_seconds(std::vector<std::pair<std::uint64_t, std::uint64_t>> intervals) {
  std::sort(intervals.begin(), intervals.end());
  std::uint64_t covered = 0;
  std::uint64_t reach = 0;  // the end of what has been counted so far
  for (auto [start, end] : intervals) {
    start = std::max(start, reach);
    if (end > start) {
      covered += end - start;
      reach = end;
    }
  }
  return static_cast<double>(covered) / 1e9;
}

void RunResult::add(const LoginOutcome& outcome) {
  if (!outcome.ok) {
    ++errors[static_cast<std::size_t>(outcome.error)];
    return;
  }
  ++ok;
  for (Phase phase : kAllPhases) {
    std::size_t i = static_cast<std::size_t>(phase);
    if (outcome.measured.test(i)) phases.add(phase, outcome.phase_ms[i]);
  }
  if (outcome.measured.test(static_cast<std::size_t>(Phase::Command))) {
    bytes_received += outcome.command_bytes;
    command_intervals.emplace_back(outcome.command_start_ns, outcome.command_end_ns);
  }
  if (outcome.resumed) ++resumed;
}

std::uint64_t RunResult::failed() const {
  return std::accumulate(errors.begin(), errors.end(), std::uint64_t{0});
}

double RunResult::logins_per_second() const {
  return elapsed_seconds > 0 ? static_cast<double>(ok) / elapsed_seconds : 0;
}

double RunResult::command_mb_per_second() const {
  double seconds = covered_seconds(command_intervals);
  return seconds > 0 ? static_cast<double>(bytes_received) / 1e6 / seconds : 0;
}

}  // namespace podgate::bench
