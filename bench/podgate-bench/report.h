// The run's report: JSON for scripts (bench/compare reads these names, keep
// them), a table for people, and the one-line progress shown while running.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "bench/podgate-bench/run_result.h"

namespace podgate::bench {

// {"target", "protocol", "tls", "logins", "ok", "errors": {kind: n}, "late",
//  "elapsed_seconds", "logins_per_second", "concurrency", "rate",
//  "bytes_received", "command_mb_per_second",
//  "phases": {phase: {"count", "p50", "p90", "p99", "p999", "max"}}}
// plus "resumed" with --resume and "held" with --hold. Phases that did not
// take place (tls without TLS, command with --command none) are left out.
nlohmann::json report_json(const RunResult& result);

std::string report_table(const RunResult& result);

std::string progress_text(std::uint64_t done, std::uint64_t total, std::uint64_t ok,
                          std::uint64_t failed, double elapsed_seconds);

}  // namespace podgate::bench
