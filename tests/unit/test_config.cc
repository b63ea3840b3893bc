#include <unistd.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "proxy/config.h"
#include "proxy/config_reload.h"

using podgate::proxy::ConfigError;
using podgate::proxy::ListenerTls;
using podgate::proxy::load_config;

namespace {

std::string write_config(const std::string& text) {
  static int counter = 0;
  // One folder per process: ctest runs test cases side by side.
  auto folder = std::filesystem::temp_directory_path() /
                ("podgate-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  auto path = folder / ("config-" + std::to_string(++counter) + ".json");
  std::ofstream(path) << text;
  return path.string();
}

const char* kMinimal = R"({
  "listeners": [
    {"protocol": "imap", "listen": "127.0.0.1:10993", "tls": "implicit"},
    {"protocol": "imap", "listen": "127.0.0.1:10143", "tls": "starttls"}
  ],
  "tls": {"certificate": "cert.pem", "private_key": "/etc/key.pem"},
  "directory": {"file": "directory.json"},
  "admin": {"listen": "127.0.0.1:9925"}
})";

}  // namespace

TEST_CASE("The minimal config of DESIGN.md loads with operator defaults", "[config]") {
  std::string path = write_config(kMinimal);
  auto config = load_config(path);
  REQUIRE(config.listeners.size() == 2);
  CHECK(config.listeners[0].tls == ListenerTls::Implicit);
  CHECK(config.listeners[1].tls == ListenerTls::StartTls);
  CHECK(config.listeners[1].address.port() == 10143);
  auto folder = std::filesystem::path(path).parent_path();
  CHECK(config.certificate == (folder / "cert.pem").string());
  CHECK(config.private_key == "/etc/key.pem");
  CHECK(config.directory.file == (folder / "directory.json").string());
  CHECK(config.access_log == "-");
  CHECK(config.timeouts.preauth_seconds == 60);
  // IDLE clients stay silent for up to 29 minutes (RFC 2177).
  CHECK(config.timeouts.idle_seconds >= 30 * 60);
  CHECK(config.limits.max_command_bytes == 8192);
  CHECK(config.timeouts.auth_failure_delay_ms == 2000);
  CHECK(config.workers == 0);  // one per core
}

TEST_CASE("Timeouts and limits can be set", "[config]") {
  std::string text = kMinimal;
  text.insert(
      text.rfind('}'),
      R"(, "timeouts": {"preauth_seconds": 5, "idle_seconds": 7200, "auth_failure_delay_ms": 0},
                                  "limits": {"max_invalid_commands": 2}, "access_log": "a.log",
                                  "workers": 3)");
  auto config = load_config(write_config(text));
  CHECK(config.workers == 3);
  CHECK(config.timeouts.preauth_seconds == 5);
  CHECK(config.timeouts.idle_seconds == 7200);
  CHECK(config.timeouts.backend_connect_seconds == 10);
  CHECK(config.timeouts.auth_failure_delay_ms == 0);
  CHECK(config.limits.max_invalid_commands == 2);
  CHECK(config.access_log.ends_with("/a.log"));
}

TEST_CASE("Connection limits have operator defaults and can be set", "[config][limits]") {
  auto defaults = load_config(write_config(kMinimal));
  CHECK(defaults.limits.max_connections == 20000);
  CHECK(defaults.limits.max_connections_per_address == 100);
  CHECK(defaults.limits.max_auth_attempts == 3);

  auto with_limits = [](const std::string& limits) {
    std::string text = kMinimal;
    text.insert(text.rfind('}'), ", \"limits\": " + limits);
    return load_config(write_config(text));
  };
  auto config = with_limits(
      R"({"max_connections": 500, "max_connections_per_address": 7, "max_auth_attempts": 1})");
  CHECK(config.limits.max_connections == 500);
  CHECK(config.limits.max_connections_per_address == 7);
  CHECK(config.limits.max_auth_attempts == 1);
  // 0: no per-address limit (clients behind a balancer share its address)
  CHECK(with_limits(R"({"max_connections_per_address": 0})").limits.max_connections_per_address ==
        0);

  for (const char* bad :
       {R"({"max_connections": 0})", R"({"max_auth_attempts": 0})", R"({"max_connections": -5})",
        R"({"max_connections_per_address": "9"})", R"({"max_auth_attempts": 2.5})"}) {
    INFO(bad);
    CHECK_THROWS_WITH(with_limits(bad), Catch::Contains("limits: \"max_"));
  }
  CHECK_THROWS_WITH(with_limits(R"({"max_connection": 5})"), Catch::Contains("unknown key"));
}

TEST_CASE("Config mistakes name the key", "[config]") {
  auto error_for = [](std::string from, const std::string& to) {
    std::string text = kMinimal;
    text.replace(text.find(from), from.size(), to);
    try {
      load_config(write_config(text));
    } catch (const ConfigError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_for("\"implicit\"", "\"tls\""), Catch::Contains("listeners[0]"));
  CHECK_THAT(error_for("127.0.0.1:10143", "localhost:143"), Catch::Contains("listeners[1]"));
  CHECK_THAT(error_for("\"protocol\": \"imap\"", "\"protocol\": \"nntp\""),
             Catch::Contains("unknown protocol"));
  CHECK_THAT(error_for("\"directory\"", "\"directroy\""), Catch::Contains("directroy"));
  CHECK_THAT(error_for("\"cert.pem\"", "3"), Catch::Contains("certificate"));
  CHECK_THAT(error_for("{\"file\"", "{\"preauth_seconds\": 0, \"file\""),
             Catch::Contains("unknown key"));
  CHECK_THAT(error_for("\"listeners\"", "\"workers\": -1, \"listeners\""),
             Catch::Contains("\"workers\" must be a whole number"));
  CHECK_THAT(error_for("\"listeners\"", "\"workers\": 1000, \"listeners\""),
             Catch::Contains("\"workers\" must be at most 256"));
  CHECK_THROWS_WITH(load_config("/nonexistent.json"), Catch::Contains("/nonexistent.json"));
  CHECK_THROWS_WITH(load_config(write_config("{")), Catch::Contains("not valid JSON"));
}

namespace {
std::string with_directory(const std::string& directory_json) {
  std::string text = kMinimal;
  auto start = text.find(R"("directory": {"file": "directory.json"})");
  text.replace(start, std::string(R"("directory": {"file": "directory.json"})").size(),
               "\"directory\": " + directory_json);
  return write_config(text);
}
}  // namespace

TEST_CASE("The directory may be a list of podgate-directory URLs", "[config]") {
  auto config = load_config(with_directory(
      R"({"url": ["http://127.0.0.1:9930", "http://[::1]:9931/dir"], "timeout_ms": 300,
          "negative_ttl_seconds": 2, "stale_seconds": 60})"));
  CHECK(config.directory.source == podgate::proxy::DirectorySource::Http);
  REQUIRE(config.directory.urls.size() == 2);
  CHECK(config.directory.urls[1] == "http://[::1]:9931/dir");
  CHECK(config.directory.timeout_ms == 300);
  CHECK(config.directory.negative_ttl_seconds == 2);
  CHECK(config.directory.stale_seconds == 60);
  // One URL may be given as a plain string.
  auto single = load_config(with_directory(R"({"url": "http://127.0.0.1:9930"})"));
  CHECK(single.directory.urls.size() == 1);
}

TEST_CASE("The directory may be an nginx auth_http service", "[config]") {
  auto config = load_config(with_directory(R"({"auth_http": "http://127.0.0.1:9000/auth"})"));
  CHECK(config.directory.source == podgate::proxy::DirectorySource::AuthHttp);
  CHECK(config.directory.auth_http == "http://127.0.0.1:9000/auth");
}

TEST_CASE("Directory sections that cannot work are refused with the reason", "[config]") {
  CHECK_THROWS_WITH(load_config(with_directory(R"({})")), Catch::Contains("exactly one of"));
  CHECK_THROWS_WITH(
      load_config(with_directory(R"({"file": "d.json", "url": "http://127.0.0.1:1"})")),
      Catch::Contains("exactly one of"));
  CHECK_THROWS_WITH(load_config(with_directory(R"({"url": []})")),
                    Catch::Contains("non-empty list"));
  CHECK_THROWS_WITH(load_config(with_directory(R"({"url": "https://127.0.0.1:9930"})")),
                    Catch::Contains("directory: \"url\""));
  CHECK_THROWS_WITH(load_config(with_directory(R"({"auth_http": "http://auth.example:80/"})")),
                    Catch::Contains("auth_http"));
  CHECK_THROWS_WITH(
      load_config(with_directory(R"({"url": "http://127.0.0.1:9930", "timeout_ms": 0})")),
      Catch::Contains("timeout_ms"));
}

TEST_CASE("An admin address that is not ip:port is refused", "[config]") {
  std::string text = kMinimal;
  text.replace(text.find("127.0.0.1:9925"), 14, "localhost:9925");
  CHECK_THROWS_WITH(load_config(write_config(text)), Catch::Contains("admin"));
}

TEST_CASE("A CA file for the pods' certificates is read relative to the config", "[config]") {
  std::string text = kMinimal;
  text.replace(text.find(R"("private_key": "/etc/key.pem")"), 29,
               R"("private_key": "/etc/key.pem", "backend_ca": "pods-ca.pem")");
  std::string path = write_config(text);
  auto config = load_config(path);
  CHECK(config.backend_ca == (std::filesystem::path(path).parent_path() / "pods-ca.pem").string());
  CHECK(load_config(write_config(kMinimal)).backend_ca.empty());
}

TEST_CASE("The drain window after SIGTERM defaults to 30 s and may be 0", "[config][drain]") {
  CHECK(load_config(write_config(kMinimal)).timeouts.drain_seconds == 30);
  auto with_timeouts = [](const std::string& timeouts) {
    std::string text = kMinimal;
    text.insert(text.rfind('}'), R"(, "timeouts": )" + timeouts);
    return write_config(text);
  };
  CHECK(load_config(with_timeouts(R"({"drain_seconds": 0})")).timeouts.drain_seconds == 0);
  CHECK(load_config(with_timeouts(R"({"drain_seconds": 120})")).timeouts.drain_seconds == 120);
  CHECK_THROWS_WITH(load_config(with_timeouts(R"({"drain_seconds": -1})")),
                    Catch::Contains("\"drain_seconds\" must be a whole number of at least 0"));
  CHECK_THROWS_WITH(load_config(with_timeouts(R"({"drain_seconds": "30"})")),
                    Catch::Contains("drain_seconds"));
}

TEST_CASE("A reload applies what it can and keeps what needs a restart", "[config][reload]") {
  using podgate::proxy::keep_restart_only_settings;
  auto running = load_config(write_config(kMinimal));

  auto same = load_config(write_config(kMinimal));
  same.timeouts.preauth_seconds = 5;
  same.certificate = "/etc/new-cert.pem";
  CHECK(keep_restart_only_settings(running, same).empty());
  CHECK(same.timeouts.preauth_seconds == 5);  // applied
  CHECK(same.certificate == "/etc/new-cert.pem");

  std::string text = kMinimal;
  text.replace(text.find("127.0.0.1:10143"), 15, "127.0.0.1:10144");
  text.replace(text.find("127.0.0.1:9925"), 14, "127.0.0.1:9926");
  text.replace(text.find("directory.json"), 14, "other.json");
  auto moved = load_config(write_config(text));
  moved.workers = 4;
  moved.access_log = "access.log";
  moved.timeouts.idle_seconds = 7200;
  CHECK(
      keep_restart_only_settings(running, moved) ==
      std::vector<std::string>{"listeners", "directory", "admin.listen", "access_log", "workers"});
  // The running values stay; everything else is the file's.
  CHECK(moved.listeners[1].listen == "127.0.0.1:10143");
  CHECK(moved.admin_listen == "127.0.0.1:9925");
  CHECK(moved.admin_address.port() == 9925);
  CHECK(moved.directory.file == running.directory.file);
  CHECK(moved.workers == 0);
  CHECK(moved.access_log == "-");
  CHECK(moved.timeouts.idle_seconds == 7200);

  auto fewer = load_config(write_config(kMinimal));
  fewer.listeners.pop_back();
  CHECK(keep_restart_only_settings(running, fewer) == std::vector<std::string>{"listeners"});
  CHECK(fewer.listeners.size() == 2);
  auto other_tls = load_config(write_config(kMinimal));
  other_tls.listeners[0].tls = ListenerTls::StartTls;
  CHECK(keep_restart_only_settings(running, other_tls) == std::vector<std::string>{"listeners"});
  CHECK(other_tls.listeners[0].tls == ListenerTls::Implicit);
  // Sessions keep their listener's settings: new mechanisms need a restart.
  auto other_mechanisms = load_config(write_config(kMinimal));
  other_mechanisms.listeners[1].mechanisms = {podgate::sasl::Mechanism::Plain};
  CHECK(keep_restart_only_settings(running, other_mechanisms) ==
        std::vector<std::string>{"listeners"});
  CHECK(other_mechanisms.listeners[1].mechanisms.size() == 2);
}

TEST_CASE("Brute-force protection settings", "[config]") {
  auto with_protection = [](const std::string& section) {
    std::string text = kMinimal;
    text.insert(text.rfind('}'), R"(, "protection": )" + section);
    return load_config(write_config(text));
  };
  auto defaults = load_config(write_config(kMinimal)).protection;
  CHECK(defaults.enabled);
  CHECK(defaults.user_address_failures == 5);
  CHECK(defaults.lockout_seconds == 900);
  CHECK(defaults.table_entries == 20000);

  auto set = with_protection(
      R"({"enabled": false, "user_failures": 50, "tarpit_step_ms": 0, "table_entries": 500})");
  CHECK_FALSE(set.protection.enabled);
  CHECK(set.protection.user_failures == 50);
  CHECK(set.protection.tarpit_step_ms == 0);
  CHECK(set.protection.table_entries == 500);
  CHECK(set.protection.address_failures == defaults.address_failures);

  CHECK_THROWS_WITH(with_protection(R"({"enabled": 1})"), Catch::Contains("true or false"));
  CHECK_THROWS_WITH(with_protection(R"({"user_failures": 0})"),
                    Catch::Contains("protection: \"user_failures\""));
  CHECK_THROWS_WITH(with_protection(R"({"table_entries": 10})"), Catch::Contains("at least 100"));
  CHECK_THROWS_WITH(with_protection(R"({"lockout": 5})"), Catch::Contains("unknown key"));
}

TEST_CASE("A listener offers the SASL mechanisms it names, PLAIN and LOGIN unless told",
          "[config]") {
  using podgate::sasl::Mechanism;
  auto defaults = load_config(write_config(kMinimal));
  CHECK(defaults.listeners[0].mechanisms == std::vector{Mechanism::Plain, Mechanism::Login});
  auto with_mechanisms = [](const std::string& mechanisms) {
    std::string text = kMinimal;
    const std::string from = R"("tls": "implicit")";
    text.replace(text.find(from), from.size(), from + R"(, "mechanisms": )" + mechanisms);
    return load_config(write_config(text));
  };
  CHECK(with_mechanisms(R"(["login"])").listeners[0].mechanisms == std::vector{Mechanism::Login});
  CHECK(with_mechanisms(R"(["LOGIN", "PLAIN"])").listeners[0].mechanisms ==
        std::vector{Mechanism::Login, Mechanism::Plain});
  CHECK_THROWS_WITH(with_mechanisms(R"(["PLAIN", "CRAM-MD5"])"),
                    "listeners[0]: unknown mechanism \"CRAM-MD5\" in \"mechanisms\" (known: "
                    "PLAIN, LOGIN)");
  CHECK_THROWS_WITH(with_mechanisms(R"(["PLAIN", "plain"])"),
                    "listeners[0]: \"mechanisms\" names PLAIN twice");
  for (const char* bad : {"[]", "\"PLAIN\"", "[1]"}) {
    CHECK_THROWS_WITH(with_mechanisms(bad),
                      "listeners[0]: \"mechanisms\" must be a non-empty "
                      "list of SASL mechanism names");
  }
}
