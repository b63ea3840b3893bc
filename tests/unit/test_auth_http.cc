#include <catch2/catch.hpp>

#include "proxy/directory/auth_http_directory.h"

using podgate::core::http::Response;
using podgate::directory::Protocol;
using podgate::proxy::auth_http_escape;
using podgate::proxy::interpret_auth_http_answer;
using podgate::proxy::LoginOutcome;

namespace {
Response answer(podgate::core::http::Headers headers, int status = 200) {
  Response response;
  response.status = status;
  response.headers = std::move(headers);
  return response;
}
}  // namespace

TEST_CASE("auth_http OK names the server to log in to", "[auth_http]") {
  auto result = interpret_auth_http_answer(
      answer({{"Auth-Status", "OK"}, {"Auth-Server", "127.0.0.1"}, {"auth-port", "20143"}}),
      Protocol::Imap);
  REQUIRE(result.route.has_value());
  REQUIRE(result.route->servers.size() == 1);
  CHECK(result.route->servers[0].text == "127.0.0.1:20143");
  CHECK_FALSE(result.backend_user);
  CHECK_FALSE(result.backend_password);
}

TEST_CASE("auth_http may replace the user and password for the pod", "[auth_http]") {
  auto result = interpret_auth_http_answer(answer({{"Auth-Status", "OK"},
                                                   {"Auth-Server", "::1"},
                                                   {"Auth-Port", "143"},
                                                   {"Auth-User", "alice"},
                                                   {"Auth-Pass", "pod%20secret"}}),
                                           Protocol::Imap);
  REQUIRE(result.route.has_value());
  CHECK(result.route->servers[0].text == "[::1]:143");
  CHECK(result.backend_user == "alice");
  CHECK(result.backend_password == "pod%20secret");  // verbatim, as nginx uses it
}

TEST_CASE("auth_http refusals carry the wait and a well-formed SMTP code", "[auth_http]") {
  auto refused = interpret_auth_http_answer(answer({{"Auth-Status", "Invalid login or password"},
                                                    {"Auth-Wait", "3"},
                                                    {"Auth-Error-Code", "535 5.7.8"}}),
                                            Protocol::Smtp);
  CHECK(refused.failure == LoginOutcome::DirectoryRefused);
  CHECK(refused.wait_seconds == 3);
  CHECK(refused.smtp_error_code == "535 5.7.8");
  // A code that would put the service's text on the wire is ignored.
  auto odd = interpret_auth_http_answer(
      answer({{"Auth-Status", "no"}, {"Auth-Error-Code", "250 hello"}, {"Auth-Wait", "x"}}),
      Protocol::Smtp);
  CHECK(odd.failure == LoginOutcome::DirectoryRefused);
  CHECK(odd.smtp_error_code.empty());
  CHECK(odd.wait_seconds == 0);
  auto long_wait = interpret_auth_http_answer(
      answer({{"Auth-Status", "no"}, {"Auth-Wait", "86400"}}), Protocol::Imap);
  CHECK(long_wait.wait_seconds == 60);
}

TEST_CASE("auth_http answers that cannot be used mean unavailable", "[auth_http]") {
  CHECK(interpret_auth_http_answer(answer({}, 500), Protocol::Imap).failure ==
        LoginOutcome::DirectoryUnavailable);
  CHECK(interpret_auth_http_answer(answer({{"X", "y"}}), Protocol::Imap).failure ==
        LoginOutcome::DirectoryUnavailable);
  CHECK(interpret_auth_http_answer(answer({{"Auth-Status", "OK"}, {"Auth-Server", "127.0.0.1"}}),
                                   Protocol::Imap)
            .failure == LoginOutcome::DirectoryUnavailable);
  CHECK(interpret_auth_http_answer(
            answer({{"Auth-Status", "OK"}, {"Auth-Server", "mail.example"}, {"Auth-Port", "143"}}),
            Protocol::Imap)
            .failure == LoginOutcome::DirectoryUnavailable);
}

TEST_CASE("auth_http escapes credentials the way nginx does", "[auth_http]") {
  CHECK(auth_http_escape("alice@example.com") == "alice@example.com");
  CHECK(auth_http_escape("p%ss word\r\n") == "p%25ss%20word%0D%0A");
  CHECK(auth_http_escape("\xc3\xa9") == "%C3%A9");
}
