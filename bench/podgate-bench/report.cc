#include "bench/podgate-bench/report.h"

#include <cmath>
#include <cstdio>

namespace podgate::bench {

namespace {

// Microseconds are the finest step worth reporting for a login.
double rounded(double value) {
  return std::round(value * 1000) / 1000;
}

std::string format(const char* pattern, auto... values) {
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, pattern, values...);
  return buffer;
}

}  // namespace

nlohmann::json report_json(const RunResult& result) {
  nlohmann::json errors = nlohmann::json::object();
  for (std::size_t i = 0; i < kErrorKindCount; ++i) {
    if (result.errors[i] > 0) errors[error_name(static_cast<ErrorKind>(i))] = result.errors[i];
  }
  nlohmann::json phases = nlohmann::json::object();
  for (Phase phase : kAllPhases) {
    LatencySummary summary = summarize(result.phases.of(phase));
    if (summary.count == 0) continue;
    phases[phase_name(phase)] = {{"count", summary.count},        {"p50", rounded(summary.p50)},
                                 {"p90", rounded(summary.p90)},   {"p99", rounded(summary.p99)},
                                 {"p999", rounded(summary.p999)}, {"max", rounded(summary.max)}};
  }
  nlohmann::json report = {
      {"target", result.target},
      {"protocol", to_string(result.protocol)},
      {"tls", to_string(result.tls)},
      {"logins", result.logins},
      {"ok", result.ok},
      {"errors", errors},
      {"late", result.late},
      {"elapsed_seconds", rounded(result.elapsed_seconds)},
      {"logins_per_second", rounded(result.logins_per_second())},
      {"concurrency", result.concurrency},
      {"bytes_received", result.bytes_received},
      {"command_mb_per_second", rounded(result.command_mb_per_second())},
      {"phases", phases},
  };
  // A whole rate prints as 50, not 50.0.
  if (result.rate == std::floor(result.rate)) {
    report["rate"] = static_cast<std::uint64_t>(result.rate);
  } else {
    report["rate"] = result.rate;
  }
  if (result.resume) report["resumed"] = result.resumed;
  if (result.held) report["held"] = *result.held;
  return report;
}

std::string report_table(const RunResult& result) {
  std::string text = format("%s %s, TLS %s: ", result.target.c_str(), to_string(result.protocol),
                            to_string(result.tls));
  text += result.rate > 0 ? format("open loop at %g logins/s, at most %llu in flight\n",
                                   result.rate, static_cast<unsigned long long>(result.concurrency))
                          : format("closed loop, concurrency %llu\n",
                                   static_cast<unsigned long long>(result.concurrency));
  if (result.held) {
    text += format("held %llu sessions\n", static_cast<unsigned long long>(*result.held));
  }
  text += format(
      "logins %llu, ok %llu, failed %llu", static_cast<unsigned long long>(result.logins),
      static_cast<unsigned long long>(result.ok), static_cast<unsigned long long>(result.failed()));
  for (std::size_t i = 0; i < kErrorKindCount; ++i) {
    if (result.errors[i] == 0) continue;
    text += format(" [%s %llu]", error_name(static_cast<ErrorKind>(i)),
                   static_cast<unsigned long long>(result.errors[i]));
  }
  if (result.rate > 0) text += format(", late %llu", static_cast<unsigned long long>(result.late));
  text += format("\nelapsed %.3f s, %.1f logins/s\n", result.elapsed_seconds,
                 result.logins_per_second());
  if (result.bytes_received > 0) {
    text += format("received %llu bytes in the command phase, %.3f MB/s\n",
                   static_cast<unsigned long long>(result.bytes_received),
                   result.command_mb_per_second());
  }
  if (result.resume) {
    text += format("resumed TLS sessions: %llu of %llu logins\n",
                   static_cast<unsigned long long>(result.resumed),
                   static_cast<unsigned long long>(result.ok));
  }
  if (result.ok == 0) return text;
  text += "\nphase        count       p50       p90       p99     p99.9       max  (ms)\n";
  for (Phase phase : kAllPhases) {
    LatencySummary s = summarize(result.phases.of(phase));
    if (s.count == 0) continue;
    text += format("%-9s %8llu %9.3f %9.3f %9.3f %9.3f %9.3f\n", phase_name(phase),
                   static_cast<unsigned long long>(s.count), s.p50, s.p90, s.p99, s.p999, s.max);
  }
  return text;
}

std::string progress_text(std::uint64_t done, std::uint64_t total, std::uint64_t ok,
                          std::uint64_t failed, double elapsed_seconds) {
  double rate = elapsed_seconds > 0 ? static_cast<double>(ok) / elapsed_seconds : 0;
  return format("%llu/%llu logins, %.1f logins/s, %llu errors   ",
                static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), rate,
                static_cast<unsigned long long>(failed));
}

}  // namespace podgate::bench
