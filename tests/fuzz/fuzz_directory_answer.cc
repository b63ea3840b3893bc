// Fuzzes what podgate makes of a directory's HTTP answer. The input is what a
// directory server sends back on one connection; it is parsed whole, in small
// chunks and cut in two (all three must agree, see fuzz_http_support.h), and
// every response goes to both interpreters, podgate-directory's
// (interpret_directory_answer) and auth_http's (interpret_auth_http_answer).
// Neither may throw, both must give the same result for every way of
// splitting, and each must keep its promises:
//  - podgate-directory: Found only for a 200 whose body decodes (checked here
//    independently, with the non-throwing JSON parser and a catch of exactly
//    DirectoryError), with a non-empty pod, servers that parse as addresses,
//    supported TLS and SMTP login modes, and a route that survives being
//    encoded and decoded again; "unknown user" only for a 404 saying so;
//  - auth_http: Found only for 200 + "Auth-Status: OK", with one server
//    built from Auth-Server and Auth-Port; Refused with Auth-Wait of at most
//    60 s and only a well-formed SMTP error code; never "unknown user".
//
// The whole input is the stream; the splits are seeded from a hash of it, so
// seed files are plain HTTP responses.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backend-directory/directory.h"
#include "backend-directory/lookup_answer.h"
#include "core/address.h"
#include "core/http/http_parser.h"
#include "proxy/directory/directory_answers.h"
#include "tests/fuzz/fuzz_http_support.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using podgate::fuzz::check;
using podgate::fuzz::Outcome;

using podgate::core::http::ParserLimits;
using podgate::core::http::Response;
using podgate::core::http::ResponseParser;
using podgate::directory::DirectoryError;
using podgate::directory::LookupAnswer;
using podgate::directory::Protocol;
using podgate::directory::Route;
using podgate::proxy::DirectoryAnswer;
using podgate::proxy::LoginOutcome;
using podgate::proxy::LookupResult;

// What one response means to each interpreter.
struct Meaning {
  DirectoryAnswer directory;
  LookupResult auth_http;
};

bool same_route(const Route& a, const Route& b) {
  if (a.pod != b.pod || a.protocol_enabled != b.protocol_enabled || a.basic_auth != b.basic_auth ||
      a.smtp_auth != b.smtp_auth || a.backend_tls != b.backend_tls ||
      a.servers.size() != b.servers.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.servers.size(); ++i) {
    if (a.servers[i].text != b.servers[i].text ||
        a.servers[i].address.text() != b.servers[i].address.text()) {
      return false;
    }
  }
  return true;
}

bool same_lookup(const LookupAnswer& a, const LookupAnswer& b) {
  return a.ttl_seconds == b.ttl_seconds && same_route(a.route, b.route);
}

bool same_answer(const DirectoryAnswer& a, const DirectoryAnswer& b) {
  return a.kind == b.kind && a.problem == b.problem && same_lookup(a.lookup, b.lookup);
}

bool same_result(const LookupResult& a, const LookupResult& b) {
  if (a.failure != b.failure || a.route.has_value() != b.route.has_value()) return false;
  if (a.route && !same_route(*a.route, *b.route)) return false;
  return std::strcmp(a.source, b.source) == 0 && a.wait_seconds == b.wait_seconds &&
         a.smtp_error_code == b.smtp_error_code && a.backend_user == b.backend_user &&
         a.backend_password == b.backend_password;
}

bool same_meaning(const Meaning& a, const Meaning& b) {
  return same_answer(a.directory, b.directory) && same_result(a.auth_http, b.auth_http);
}

// Every server of a route is an address, written as the directory wrote it.
void check_servers(const Route& route) {
  for (const auto& server : route.servers) {
    const auto address = podgate::core::parse_socket_address(server.text);
    check(address && address->text() == server.address.text());
  }
}

void check_directory_answer(const Response& response, const DirectoryAnswer& answer) {
  using Kind = DirectoryAnswer::Kind;
  check((answer.kind == Kind::Failed) == !answer.problem.empty());
  check((answer.kind == Kind::UnusableName) == (response.status == 400));

  const auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (response.status == 404) {
    const auto error = body.is_object() ? body.find("error") : body.end();
    const bool unknown_user = error != body.end() && error->is_string() && *error == "unknown user";
    check((answer.kind == Kind::UnknownUser) == unknown_user);
  } else {
    check(answer.kind != Kind::UnknownUser);
  }
  if (response.status != 200) {
    check(answer.kind != Kind::Found);
    return;
  }

  std::optional<LookupAnswer> decoded;
  if (!body.is_discarded()) {
    try {
      decoded = podgate::directory::decode_lookup_answer(body);
    } catch (const DirectoryError&) {
      // Any other exception escapes, and libFuzzer reports it.
    }
  }
  check((answer.kind == Kind::Found) == decoded.has_value());
  if (!decoded) return;
  check(same_lookup(*decoded, answer.lookup));

  const Route& route = answer.lookup.route;
  check(!route.pod.empty());
  check(route.backend_tls == "none" || route.backend_tls == "implicit");
  check(route.smtp_auth == "plain" || route.smtp_auth == "login");
  check_servers(route);

  // What podgate-directory would write for this route reads back the same.
  const LookupAnswer again =
      podgate::directory::decode_lookup_answer(podgate::directory::encode_lookup_answer(
          "user@example.com", Protocol::Imap, route, answer.lookup.ttl_seconds));
  check(same_route(again.route, route));
  check(again.ttl_seconds == (route.servers.empty() ? 0 : answer.lookup.ttl_seconds));
}

bool well_formed_smtp_error_code(const std::string& code) {
  if (code.size() < 3 || (code[0] != '4' && code[0] != '5')) return false;
  return code.size() == 3 || (code.size() >= 9 && code[3] == ' ' && code[4] == code[0]);
}

void check_auth_http_result(const Response& response, const LookupResult& result) {
  check(std::strcmp(result.source, "auth_http") == 0);
  check(result.route || result.failure != LoginOutcome::UnknownUser);
  const std::optional<std::string> status = response.header("Auth-Status");
  if (response.status != 200 || !status) {
    check(!result.route && result.failure == LoginOutcome::DirectoryUnavailable);
  } else {
    check((!result.route && result.failure == LoginOutcome::DirectoryRefused) == (*status != "OK"));
  }
  if (result.route || result.failure != LoginOutcome::DirectoryRefused) {
    check(result.wait_seconds == 0 && result.smtp_error_code.empty());
  } else {
    check(result.wait_seconds <= 60);
    check(result.smtp_error_code.empty() || well_formed_smtp_error_code(result.smtp_error_code));
  }
  if (!result.route) {
    check(!result.backend_user && !result.backend_password);
    return;
  }
  const Route& route = *result.route;
  check(route.pod == "auth_http" && route.servers.size() == 1);
  check(route.servers[0].text == podgate::core::bracketed_host(*response.header("Auth-Server")) +
                                     ":" + *response.header("Auth-Port"));
  check_servers(route);
  check(!result.backend_user || !result.backend_user->empty());
  check(!result.backend_password || !result.backend_password->empty());
}

std::vector<Meaning> interpret(const Outcome<Response>& outcome, Protocol protocol) {
  std::vector<Meaning> meanings;
  for (const Response& response : outcome.messages) {
    Meaning meaning{podgate::proxy::interpret_directory_answer(response),
                    podgate::proxy::interpret_auth_http_answer(response, protocol)};
    check_directory_answer(response, meaning.directory);
    check_auth_http_result(response, meaning.auth_http);
    meanings.push_back(std::move(meaning));
  }
  return meanings;
}

std::uint32_t fnv1a(std::string_view bytes) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char byte : bytes) hash = (hash ^ byte) * 16777619u;
  return hash;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using podgate::fuzz::parse_in_small_chunks;
  using podgate::fuzz::parse_in_two;
  using podgate::fuzz::parse_whole;
  using podgate::fuzz::same_lists;

  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::uint32_t seed = fnv1a(input);
  const Protocol protocol = static_cast<Protocol>(seed % 3);
  const ParserLimits limits;  // what the directory clients use

  const Outcome<Response> whole = parse_whole<ResponseParser, Response>(input, limits);
  const Outcome<Response> chunks =
      parse_in_small_chunks<ResponseParser, Response>(input, limits, seed);
  const Outcome<Response> two =
      parse_in_two<ResponseParser, Response>(input, limits, seed % (input.size() + 1));
  check(whole == chunks && whole == two);

  const std::vector<Meaning> meanings = interpret(whole, protocol);
  check(same_lists(meanings, interpret(chunks, protocol), same_meaning));
  check(same_lists(meanings, interpret(two, protocol), same_meaning));
  return 0;
}
