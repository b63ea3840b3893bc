#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "proxy/access_log.h"

using podgate::proxy::SessionRecord;

TEST_CASE("An access-log record is one JSON line with every field", "[access_log]") {
  SessionRecord record;
  record.session = "abc";
  record.protocol = "imap";
  record.client = "127.0.0.5:40000";
  record.user = "alice@example.com";
  record.pod = "pod-1";
  record.backend = "127.0.0.1:20143";
  record.tls = "TLSv1.3";
  record.outcome = podgate::proxy::LoginOutcome::LoggedIn;
  record.close_reason = podgate::proxy::CloseReason::Logout;
  record.bytes_from_client = 10;
  record.bytes_to_client = 20;
  record.phases.tls = 1.5;
  record.phases.total = 3.25;
  std::string line = podgate::proxy::to_json_line(record);
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  auto parsed = nlohmann::json::parse(line);
  CHECK(parsed["user"] == "alice@example.com");
  CHECK(parsed["backend"] == "127.0.0.1:20143");
  CHECK(parsed["phases_ms"]["tls"] == 1.5);
  CHECK(parsed["phases_ms"]["directory"].is_null());
  CHECK(parsed["bytes_to_client"] == 20);
  CHECK(parsed.contains("ts"));
  CHECK(parsed["result"] == "ok");
  CHECK(parsed["outcome"] == "logged_in");
  CHECK(parsed["close_reason"] == "logout");
}

TEST_CASE("The access log's result names what the client was told", "[access_log]") {
  using podgate::proxy::LoginOutcome;
  auto result_of = [](std::optional<LoginOutcome> outcome) {
    SessionRecord record;
    record.outcome = outcome;
    return nlohmann::json::parse(podgate::proxy::to_json_line(record))["result"];
  };
  CHECK(result_of(std::nullopt) == "no_login");
  CHECK(result_of(LoginOutcome::WrongPassword) == "auth_failed");
  CHECK(result_of(LoginOutcome::UnknownUser) == "auth_failed");
  CHECK(result_of(LoginOutcome::LockedOut) == "auth_failed");
  CHECK(result_of(LoginOutcome::Disabled) == "disabled");
  CHECK(result_of(LoginOutcome::InUse) == "in_use");
  CHECK(result_of(LoginOutcome::PodFault) == "unavailable");
  CHECK(result_of(LoginOutcome::PodTimeout) == "unavailable");
  CHECK(result_of(LoginOutcome::DirectoryUnavailable) == "unavailable");
}

TEST_CASE("A user name that is not UTF-8 does not break the log", "[access_log]") {
  SessionRecord record;
  record.user = "bad\xff\xfe";
  auto parsed = nlohmann::json::parse(podgate::proxy::to_json_line(record));
  CHECK(parsed["user"].get<std::string>().rfind("bad", 0) == 0);
}
