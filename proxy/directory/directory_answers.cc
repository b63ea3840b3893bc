#include "proxy/directory/directory_answers.h"

#include <algorithm>
#include <charconv>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>

#include "core/address.h"

namespace podgate::proxy {

namespace {

// A 404 means "unknown user" only when the directory says so; any other 404
// (a wrong path in the URL, something else on that port) is a broken URL.
// Not json::value("error", ""): it throws when "error" is not a string.
bool says_unknown_user(const core::http::Response& response) {
  auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return false;
  auto error = body.find("error");
  return error != body.end() && error->is_string() && *error == "unknown user";
}

std::uint32_t parse_seconds(const std::optional<std::string>& text) {
  if (!text) return 0;
  std::uint32_t seconds = 0;
  auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), seconds);
  if (error != std::errc() || end != text->data() + text->size()) return 0;
  return std::min<std::uint32_t>(seconds, 60);  // a typo must not hang clients for hours
}

// "535 5.7.8" or "454 4.7.0": a three-digit 4xx/5xx code, optionally with
// an enhanced status code. Anything else is ignored (it would go to the
// client verbatim).
bool usable_smtp_error_code(const std::string& code) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (code.size() < 3 || (code[0] != '4' && code[0] != '5') || !digit(code[1]) || !digit(code[2])) {
    return false;
  }
  if (code.size() == 3) return true;
  if (code[3] != ' ') return false;
  std::string_view enhanced(code.data() + 4, code.size() - 4);
  if (enhanced.size() < 5 || enhanced.size() > 9 || enhanced[0] != code[0] || enhanced[1] != '.')
    return false;
  return std::all_of(enhanced.begin(), enhanced.end(),
                     [&](char c) { return digit(c) || c == '.'; });
}

}  // namespace

DirectoryAnswer interpret_directory_answer(const core::http::Response& response) {
  DirectoryAnswer answer;
  if (response.status == 404 && says_unknown_user(response)) {
    answer.kind = DirectoryAnswer::Kind::UnknownUser;
  } else if (response.status == 400) {
    answer.kind = DirectoryAnswer::Kind::UnusableName;
  } else if (response.status == 200) {
    try {
      answer.lookup = directory::decode_lookup_answer(nlohmann::json::parse(response.body));
      answer.kind = DirectoryAnswer::Kind::Found;
    } catch (const std::exception& error) {
      // The parser's message says where the JSON goes wrong, for the log.
      answer.problem = std::string("unusable answer: ") + error.what();
    }
  } else {
    answer.problem = "HTTP status " + std::to_string(response.status);
  }
  return answer;
}

LookupResult interpret_auth_http_answer(const core::http::Response& response,
                                        directory::Protocol protocol) {
  LookupResult result;
  result.source = "auth_http";
  auto status = response.header("Auth-Status");
  if (response.status != 200 || !status) {
    result.failure = LoginOutcome::DirectoryUnavailable;
    return result;
  }
  if (*status != "OK") {
    result.failure = LoginOutcome::DirectoryRefused;
    result.wait_seconds = parse_seconds(response.header("Auth-Wait"));
    if (auto code = response.header("Auth-Error-Code"); code && usable_smtp_error_code(*code)) {
      result.smtp_error_code = *code;
    }
    return result;
  }
  auto server = response.header("Auth-Server");
  auto port = response.header("Auth-Port");
  if (!server || !port) {
    result.failure = LoginOutcome::DirectoryUnavailable;
    return result;
  }
  std::string text = core::bracketed_host(*server) + ":" + *port;
  auto address = core::parse_socket_address(text);
  if (!address) {
    result.failure = LoginOutcome::DirectoryUnavailable;
    return result;
  }
  directory::Route route;
  route.pod = "auth_http";
  route.servers.push_back(directory::Server{text, *address});
  (void)protocol;
  result.route = std::move(route);
  // Taken as they are: nginx does not unescape them either.
  if (auto user = response.header("Auth-User"); user && !user->empty()) {
    result.backend_user = *user;
  }
  if (auto pass = response.header("Auth-Pass"); pass && !pass->empty()) {
    result.backend_password.emplace(*pass);
  }
  return result;
}

}  // namespace podgate::proxy
