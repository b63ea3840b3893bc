#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics.h"

using podgate::core::metrics::Histogram;
using podgate::core::metrics::label;
using podgate::core::metrics::Registry;

namespace {
bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}
}  // namespace

TEST_CASE("histogram buckets are cumulative and an observation on a bound falls in it",
          "[metrics]") {
  Histogram histogram({0.001, 0.01, 0.1});
  histogram.observe(0.0005);
  histogram.observe(0.001);  // on the bound: counted in le="0.001"
  histogram.observe(0.05);
  histogram.observe(3);  // past the last bound: only +Inf
  CHECK(histogram.cumulative_count(0) == 2);
  CHECK(histogram.cumulative_count(1) == 2);
  CHECK(histogram.cumulative_count(2) == 3);
  CHECK(histogram.cumulative_count(3) == 4);
  CHECK(histogram.count() == 4);
  CHECK(histogram.sum() == Approx(3.0515));
}

TEST_CASE("histogram bounds must ascend", "[metrics]") {
  CHECK_THROWS(Histogram({0.1, 0.01}));
}

TEST_CASE("a histogram renders as Prometheus buckets, sum and count per label set", "[metrics]") {
  Registry registry;
  auto& imap =
      registry.histogram("podgate_login_phase_seconds", "Login phase durations",
                         label("protocol", "imap") + "," + label("phase", "tls"), {0.001, 0.01});
  auto& pop3 =
      registry.histogram("podgate_login_phase_seconds", "Login phase durations",
                         label("protocol", "pop3") + "," + label("phase", "tls"), {0.001, 0.01});
  imap.observe(0.0002);
  imap.observe(0.02);
  pop3.observe(0.005);
  std::string text = registry.render();
  // One header for the family.
  CHECK(text.find("# TYPE podgate_login_phase_seconds histogram\n") != std::string::npos);
  CHECK(text.find("# TYPE podgate_login_phase_seconds", text.find("# TYPE") + 1) ==
        std::string::npos);
  CHECK(has_line(
      text, R"(podgate_login_phase_seconds_bucket{protocol="imap",phase="tls",le="0.001"} 1)"));
  CHECK(has_line(text,
                 R"(podgate_login_phase_seconds_bucket{protocol="imap",phase="tls",le="0.01"} 1)"));
  CHECK(has_line(text,
                 R"(podgate_login_phase_seconds_bucket{protocol="imap",phase="tls",le="+Inf"} 2)"));
  CHECK(has_line(text, R"(podgate_login_phase_seconds_count{protocol="imap",phase="tls"} 2)"));
  CHECK(has_line(text, R"(podgate_login_phase_seconds_sum{protocol="imap",phase="tls"} 0.0202)"));
  CHECK(has_line(text,
                 R"(podgate_login_phase_seconds_bucket{protocol="pop3",phase="tls",le="0.01"} 1)"));
}

TEST_CASE("the same histogram name and labels give the same histogram", "[metrics]") {
  Registry registry;
  auto& first = registry.histogram("h_seconds", "h", "");
  auto& second = registry.histogram("h_seconds", "h", "");
  CHECK(&first == &second);
  first.observe(1);
  CHECK(has_line(registry.render(), R"(h_seconds_bucket{le="+Inf"} 1)"));
  CHECK(has_line(registry.render(), "h_seconds_count 1"));
  CHECK_THROWS(registry.counter("h_seconds", "h"));
}

TEST_CASE("histograms and counters may be updated from several threads at once", "[metrics]") {
  Registry registry;
  auto& histogram = registry.histogram("t_seconds", "t", "");
  auto& counter = registry.counter("t_total", "t");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        histogram.observe(0.001);
        counter.add();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(histogram.count() == 40000);
  CHECK(histogram.sum() == Approx(40.0));
  CHECK(counter.value() == 40000);
}
