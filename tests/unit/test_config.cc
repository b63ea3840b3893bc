#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "proxy/config.h"

using podgate::proxy::ConfigError;
using podgate::proxy::ListenerTls;
using podgate::proxy::load_config;

namespace {

std::string write_config(const std::string& text) {
  static int counter = 0;
  auto folder = std::filesystem::temp_directory_path() / "podgate-config-test";
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
