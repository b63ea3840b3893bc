// The JSON report keeps the names bench/compare reads; credentials expand as
// documented.
#include <catch2/catch.hpp>

#include <stdexcept>

#include "bench/podgate-bench/credentials.h"
#include "bench/podgate-bench/report.h"

using namespace podgate::bench;

namespace {

RunResult sample_run() {
  RunResult result;
  result.target = "127.0.0.1:10993";
  result.protocol = Protocol::Imap;
  result.tls = TlsMode::None;
  result.logins = 3;
  result.concurrency = 2;
  LoginOutcome ok;
  ok.ok = true;
  for (Phase phase : {Phase::Connect, Phase::Greeting, Phase::Auth, Phase::Logout, Phase::Total}) {
    ok.set(phase, 1.23456);
  }
  result.add(ok);
  result.add(ok);
  LoginOutcome refused;
  refused.error = ErrorKind::AuthFailed;
  result.add(refused);
  result.elapsed_seconds = 0.5;
  result.phases.sort();
  return result;
}

}  // namespace

TEST_CASE("JSON report: names, omitted phases, errors by kind", "[bench][report]") {
  nlohmann::json report = report_json(sample_run());
  for (const char* key : {"target", "protocol", "tls", "logins", "ok", "errors", "late",
                          "elapsed_seconds", "logins_per_second", "concurrency", "rate",
                          "bytes_received", "command_mb_per_second", "phases"}) {
    INFO(key);
    CHECK(report.contains(key));
  }
  CHECK(report.size() == 14);  // no "resumed" without --resume, no "held" without --hold
  CHECK(report["target"] == "127.0.0.1:10993");
  CHECK(report["protocol"] == "imap");
  CHECK(report["tls"] == "none");
  CHECK(report["ok"] == 2);
  CHECK(report["errors"] == nlohmann::json{{"auth_failed", 1}});
  CHECK(report["rate"].is_number_integer());
  CHECK(report["logins_per_second"] == 4.0);
  CHECK_FALSE(report["phases"].contains("tls"));
  CHECK_FALSE(report["phases"].contains("command"));
  nlohmann::json auth = report["phases"]["auth"];
  CHECK(auth == nlohmann::json{{"count", 2},
                               {"p50", 1.235},
                               {"p90", 1.235},
                               {"p99", 1.235},
                               {"p999", 1.235},
                               {"max", 1.235}});
}

TEST_CASE("JSON report: resumed and held when asked for", "[bench][report]") {
  RunResult result = sample_run();
  result.resume = true;
  result.held = 2;
  result.rate = 12.5;
  nlohmann::json report = report_json(result);
  CHECK(report["resumed"] == 0);
  CHECK(report["held"] == 2);
  CHECK(report["rate"] == 12.5);
  CHECK(report_json(RunResult{})["errors"].is_object());
}

TEST_CASE("The table names every phase that took place", "[bench][report]") {
  std::string table = report_table(sample_run());
  CHECK(table.find("auth_failed 1") != std::string::npos);
  CHECK(table.find("\nauth ") != std::string::npos);
  CHECK(table.find("\ntls ") == std::string::npos);
  CHECK(progress_text(5, 10, 4, 1, 2.0) == "5/10 logins, 2.0 logins/s, 1 errors   ");
}

TEST_CASE("User patterns and users files", "[bench][credentials]") {
  CHECK(expand_pattern("user{n}@example.com", 42) == "user42@example.com");
  CHECK(expand_pattern("{n}-{n}", 7) == "7-7");
  CHECK(expand_pattern("alice", 3) == "alice");

  Credentials patterns = Credentials::from_patterns("u{n}", "pw-{n}", 3);
  CHECK(patterns.size() == 3);
  CHECK(patterns.for_login(0).user == "u0");
  CHECK(patterns.for_login(4).user == "u1");  // round-robin
  CHECK(patterns.for_login(4).password == "pw-1");

  Credentials file = Credentials::from_text(
      "# test users\r\nalice@example.com secret\r\n\ndave@example.com pass with spaces\n",
      "users.txt");
  CHECK(file.size() == 2);
  CHECK(file.for_login(1).password == "pass with spaces");

  CHECK_THROWS_AS(Credentials::from_text("nobody\n", "f"), std::invalid_argument);
  CHECK_THROWS_AS(Credentials::from_text("# only comments\n", "f"), std::invalid_argument);
  CHECK_THROWS_AS(Credentials::from_patterns("u{n}", "", 1), std::invalid_argument);
  CHECK_THROWS_AS(Credentials::from_patterns("u{n}", "p", 0), std::invalid_argument);
  CHECK_THROWS_AS(Credentials::from_text(std::string("a b\0c\n", 6), "f"), std::invalid_argument);
}
