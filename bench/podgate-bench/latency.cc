#include "bench/podgate-bench/latency.h"

#include <algorithm>

namespace podgate::bench {

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::Queue:
      return "queue";
    case Phase::Connect:
      return "connect";
    case Phase::Tls:
      return "tls";
    case Phase::Greeting:
      return "greeting";
    case Phase::Auth:
      return "auth";
    case Phase::Command:
      return "command";
    case Phase::Logout:
      return "logout";
    case Phase::Total:
      return "total";
  }
  return "unknown";
}

double percentile(const std::vector<double>& sorted, unsigned per_mille) {
  if (sorted.empty()) return 0;
  std::size_t n = sorted.size();
  std::size_t rank = (static_cast<std::size_t>(per_mille) * n + 999) / 1000;  // ceil
  rank = std::clamp<std::size_t>(rank, 1, n);
  return sorted[rank - 1];
}

LatencySummary summarize(const std::vector<double>& sorted) {
  LatencySummary summary;
  summary.count = sorted.size();
  if (sorted.empty()) return summary;
  summary.p50 = percentile(sorted, 500);
  summary.p90 = percentile(sorted, 900);
  summary.p99 = percentile(sorted, 990);
  summary.p999 = percentile(sorted, 999);
  summary.max = sorted.back();
  return summary;
}

void PhaseSamples::sort() {
  for (auto& samples : by_phase) std::sort(samples.begin(), samples.end());
}

}  // namespace podgate::bench
