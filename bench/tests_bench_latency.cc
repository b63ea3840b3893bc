// Percentiles of known sample sets, and what a run adds up from its logins.
#include <catch2/catch.hpp>

#include <numeric>
#include <vector>

#include "bench/podgate-bench/latency.h"
#include "bench/podgate-bench/run_result.h"

using namespace podgate::bench;

TEST_CASE("Nearest-rank percentiles of 1..1000", "[bench][latency]") {
  std::vector<double> samples(1000);
  std::iota(samples.begin(), samples.end(), 1.0);
  LatencySummary s = summarize(samples);
  CHECK(s.count == 1000);
  CHECK(s.p50 == 500);
  CHECK(s.p90 == 900);
  CHECK(s.p99 == 990);
  CHECK(s.p999 == 999);
  CHECK(s.max == 1000);
}

TEST_CASE("Percentiles of small and odd sample sets", "[bench][latency]") {
  std::vector<double> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  LatencySummary s = summarize(ten);
  CHECK(s.p50 == 5);
  CHECK(s.p90 == 9);
  CHECK(s.p99 == 10);
  CHECK(s.p999 == 10);

  std::vector<double> one = {0.25};
  s = summarize(one);
  CHECK(s.count == 1);
  CHECK(s.p50 == 0.25);
  CHECK(s.p999 == 0.25);
  CHECK(s.max == 0.25);

  // 40 logins: p99 and p99.9 are the slowest one, p90 the 36th.
  std::vector<double> forty(40, 1.0);
  forty[35] = 2;
  for (int i = 36; i < 40; ++i) forty[i] = 10.0 + i;
  s = summarize(forty);
  CHECK(s.p50 == 1);
  CHECK(s.p90 == 2);
  CHECK(s.p99 == 49);
  CHECK(s.max == 49);

  CHECK(summarize({}).count == 0);
  CHECK(percentile({}, 500) == 0);
}

TEST_CASE("Samples are sorted per phase", "[bench][latency]") {
  PhaseSamples samples;
  for (double ms : {3.0, 1.0, 2.0}) samples.add(Phase::Auth, ms);
  samples.sort();
  CHECK(samples.of(Phase::Auth) == std::vector<double>{1, 2, 3});
  CHECK(samples.of(Phase::Tls).empty());
  CHECK(std::string(phase_name(Phase::Total)) == "total");
}

TEST_CASE("Time covered by overlapping intervals", "[bench][latency]") {
  CHECK(covered_seconds({}) == 0);
  // [0,2) and [1,3) overlap: 3 s; [5,6) is apart: 1 s; [5.2,5.5) inside it.
  CHECK(covered_seconds({{1'000'000'000, 3'000'000'000},
                         {0, 2'000'000'000},
                         {5'000'000'000, 6'000'000'000},
                         {5'200'000'000, 5'500'000'000}}) == Approx(4.0));
}

TEST_CASE("A run counts ok logins' phases and failed logins' kinds", "[bench][latency]") {
  RunResult result;
  LoginOutcome ok;
  ok.ok = true;
  ok.set(Phase::Connect, 0.5);
  ok.set(Phase::Command, 10);
  ok.set(Phase::Total, 20);
  ok.command_bytes = 2'000'000;
  ok.command_start_ns = 0;
  ok.command_end_ns = 1'000'000'000;
  ok.resumed = true;
  result.add(ok);
  LoginOutcome failed;
  failed.error = ErrorKind::AuthFailed;
  failed.set(Phase::Connect, 99);  // a failed login's times stay out of the percentiles
  result.add(failed);
  result.add(failed);
  result.elapsed_seconds = 2;

  CHECK(result.ok == 1);
  CHECK(result.failed() == 2);
  CHECK(result.errors[static_cast<std::size_t>(ErrorKind::AuthFailed)] == 2);
  CHECK(result.phases.of(Phase::Connect) == std::vector<double>{0.5});
  CHECK(result.phases.of(Phase::Tls).empty());
  CHECK(result.bytes_received == 2'000'000);
  CHECK(result.resumed == 1);
  CHECK(result.logins_per_second() == Approx(0.5));
  CHECK(result.command_mb_per_second() == Approx(2.0));
}
