// The HTTP/1.1 parsers over llhttp. Inputs go through same_everywhere():
// parsed whole, then split in two at every offset and fed one byte at a
// time; every run must give the same messages and the same final error.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "core/http/http_parser.h"

namespace http = podgate::core::http;

namespace {

template <typename Parser, typename Message>
struct Outcome {
  std::vector<Message> messages;
  bool error = false;
  std::string error_text;
  bool finished_with_message = false;
};

// Feeds chunks as a connection would: take() each message, feed the rest.
template <typename Parser, typename Message>
class Run {
 public:
  explicit Run(http::ParserLimits limits) : parser_(limits) {}

  void feed(std::string_view chunk) {
    if (outcome_.error) return;
    for (;;) {
      std::size_t consumed = 0;
      http::ParseStatus status = parser_.feed(chunk, consumed);
      REQUIRE(consumed <= chunk.size());
      chunk.remove_prefix(consumed);
      if (status == http::ParseStatus::Message) {
        outcome_.messages.push_back(parser_.take());
        continue;
      }
      if (status == http::ParseStatus::Error) {
        outcome_.error = true;
        outcome_.error_text = parser_.error();
        // Final: it stays an error.
        std::size_t again = 0;
        CHECK(parser_.feed("GET / HTTP/1.1\r\n\r\n", again) == http::ParseStatus::Error);
        CHECK(again == 0);
        return;
      }
      REQUIRE(chunk.empty());
      return;
    }
  }

  Parser& parser() { return parser_; }
  Outcome<Parser, Message>& outcome() { return outcome_; }

 private:
  Parser parser_;
  Outcome<Parser, Message> outcome_;
};

bool same(const http::Request& a, const http::Request& b) {
  return a.method == b.method && a.target == b.target && a.headers == b.headers &&
         a.body == b.body && a.keep_alive == b.keep_alive;
}

bool same(const http::Response& a, const http::Response& b) {
  return a.status == b.status && a.headers == b.headers && a.body == b.body &&
         a.keep_alive == b.keep_alive;
}

template <typename Parser, typename Message>
void finish_if_response(Run<Parser, Message>& run) {
  if constexpr (std::is_same_v<Parser, http::ResponseParser>) {
    auto& outcome = run.outcome();
    if (outcome.error) return;
    http::ParseStatus status = run.parser().finish();
    if (status == http::ParseStatus::Message) {
      outcome.messages.push_back(run.parser().take());
      outcome.finished_with_message = true;
    } else if (status == http::ParseStatus::Error) {
      outcome.error = true;
      outcome.error_text = run.parser().error();
    }
  }
}

template <typename Parser, typename Message>
void check_same(const Outcome<Parser, Message>& expected, const Outcome<Parser, Message>& actual) {
  REQUIRE(actual.messages.size() == expected.messages.size());
  for (std::size_t i = 0; i < expected.messages.size(); ++i) {
    CHECK(same(actual.messages[i], expected.messages[i]));
  }
  CHECK(actual.error == expected.error);
  CHECK(actual.finished_with_message == expected.finished_with_message);
}

// Parses `input` whole, then at every split point and one byte at a time;
// returns the whole parse after checking that all runs agree. Responses are
// finish()ed at the end, as when the server closes.
template <typename Parser, typename Message>
Outcome<Parser, Message> same_everywhere(std::string_view input, http::ParserLimits limits = {}) {
  Run<Parser, Message> whole(limits);
  whole.feed(input);
  finish_if_response(whole);
  const Outcome<Parser, Message> expected = whole.outcome();

  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    INFO("split at " << cut);
    Run<Parser, Message> split(limits);
    split.feed(input.substr(0, cut));
    split.feed(input.substr(cut));
    finish_if_response(split);
    check_same(expected, split.outcome());
  }
  Run<Parser, Message> bytewise(limits);
  for (char c : input) bytewise.feed(std::string_view(&c, 1));
  finish_if_response(bytewise);
  INFO("one byte at a time");
  check_same(expected, bytewise.outcome());
  return expected;
}

auto requests(std::string_view input, http::ParserLimits limits = {}) {
  return same_everywhere<http::RequestParser, http::Request>(input, limits);
}

auto responses(std::string_view input, http::ParserLimits limits = {}) {
  return same_everywhere<http::ResponseParser, http::Response>(input, limits);
}

}  // namespace

TEST_CASE("HTTP request parser gives the same requests at every split point", "[http][parser]") {
  const std::string input =
      "GET /v1/lookup?user=a%40b&protocol=imap HTTP/1.1\r\n"
      "Host: 127.0.0.1\r\n"
      "Accept: application/json\r\n"
      "\r\n"
      "PUT /v1/users/a HTTP/1.1\r\n"
      "Host: 127.0.0.1\r\n"
      "Content-Type: application/json\r\n"
      "Content-Length: 15\r\n"
      "\r\n"
      "{\"pod\":\"pod-1\"}"
      "POST /chunked HTTP/1.1\r\n"
      "Transfer-Encoding: chunked\r\n"
      "\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
      "DELETE /v1/users/a HTTP/1.1\r\n"
      "Connection: close\r\n"
      "\r\n";
  auto outcome = requests(input);
  CHECK_FALSE(outcome.error);
  REQUIRE(outcome.messages.size() == 4);

  const http::Request& get = outcome.messages[0];
  CHECK(get.method == "GET");
  CHECK(get.target == "/v1/lookup?user=a%40b&protocol=imap");
  CHECK(get.path() == "/v1/lookup");
  CHECK(get.query()["user"] == "a@b");
  CHECK(get.headers == http::Headers{{"Host", "127.0.0.1"}, {"Accept", "application/json"}});
  CHECK(get.body.empty());
  CHECK(get.keep_alive);

  const http::Request& put = outcome.messages[1];
  CHECK(put.method == "PUT");
  CHECK(put.body == R"({"pod":"pod-1"})");
  CHECK(put.header("content-length") == "15");
  CHECK(put.keep_alive);

  const http::Request& post = outcome.messages[2];
  CHECK(post.method == "POST");
  CHECK(post.body == "hello world");
  CHECK_FALSE(post.header("Trailer"));  // trailers are not headers

  const http::Request& del = outcome.messages[3];
  CHECK(del.method == "DELETE");
  CHECK_FALSE(del.keep_alive);
}

TEST_CASE("HTTP request parser returns pipelined requests one per feed", "[http][parser]") {
  const std::string first = "GET /1 HTTP/1.1\r\n\r\n";
  const std::string second = "GET /2 HTTP/1.1\r\nX-A: b\r\n\r\n";
  const std::string third_start = "GET /3 HTTP/1.1\r\nX-";
  const std::string input = first + second + third_start;

  http::RequestParser parser;
  std::size_t consumed = 0;
  REQUIRE(parser.feed(input, consumed) == http::ParseStatus::Message);
  CHECK(consumed == first.size());
  // Not taken yet: nothing more is consumed.
  std::size_t again = 99;
  CHECK(parser.feed(std::string_view(input).substr(consumed), again) == http::ParseStatus::Message);
  CHECK(again == 0);
  CHECK(parser.take().target == "/1");

  std::string_view rest = std::string_view(input).substr(consumed);
  REQUIRE(parser.feed(rest, consumed) == http::ParseStatus::Message);
  CHECK(consumed == second.size());
  CHECK(parser.take().header("x-a") == "b");
  rest.remove_prefix(consumed);
  CHECK(parser.feed(rest, consumed) == http::ParseStatus::NeedMore);
  CHECK(consumed == rest.size());
  REQUIRE(parser.feed("A: 1\r\n\r\n", consumed) == http::ParseStatus::Message);
  auto third = parser.take();
  CHECK(third.target == "/3");
  CHECK(third.header("X-A") == "1");

  auto outcome = requests(input + "A: 1\r\n\r\n");
  CHECK(outcome.messages.size() == 3);
  CHECK_FALSE(outcome.error);
}

TEST_CASE("HTTP request parser keep-alive follows version and Connection", "[http][parser]") {
  auto outcome = requests(
      "GET /a HTTP/1.1\r\n\r\n"
      "GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
      "GET /c HTTP/1.0\r\n\r\n");
  REQUIRE(outcome.messages.size() == 3);
  CHECK(outcome.messages[0].keep_alive);
  CHECK(outcome.messages[1].keep_alive);
  CHECK_FALSE(outcome.messages[2].keep_alive);
  auto close = requests("GET /a HTTP/1.1\r\nConnection: close\r\n\r\n");
  REQUIRE(close.messages.size() == 1);
  CHECK_FALSE(close.messages[0].keep_alive);
}

TEST_CASE("HTTP parser assembles headers split across feeds", "[http][parser]") {
  http::RequestParser parser;
  std::size_t consumed = 0;
  CHECK(parser.feed("GET /x HTTP/1.1\r\nX-Lo", consumed) == http::ParseStatus::NeedMore);
  CHECK(parser.feed("ng-Na", consumed) == http::ParseStatus::NeedMore);
  CHECK(parser.feed("me: first ", consumed) == http::ParseStatus::NeedMore);
  CHECK(parser.feed("part\r", consumed) == http::ParseStatus::NeedMore);
  CHECK(parser.feed("\nX-Empty:\r\nX-Last: 1\r\n", consumed) == http::ParseStatus::NeedMore);
  REQUIRE(parser.feed("\r\n", consumed) == http::ParseStatus::Message);
  auto request = parser.take();
  CHECK(request.headers ==
        http::Headers{{"X-Long-Name", "first part"}, {"X-Empty", ""}, {"X-Last", "1"}});

  auto outcome =
      requests("GET /x HTTP/1.1\r\nX-Long-Name: first part\r\nX-Empty:\r\nX-Last: 1\r\n\r\n");
  REQUIRE(outcome.messages.size() == 1);
  CHECK(same(outcome.messages[0], request));
}

TEST_CASE("HTTP response parser reads a chunked body", "[http][parser]") {
  auto outcome = responses(
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n"
      "\r\n"
      "4\r\n{\"a\"\r\n"
      "A;name=value\r\n:\"0123456\"\r\n"
      "1\r\n}\r\n"
      "0\r\n"
      "X-Trailer: ignored\r\n"
      "\r\n"
      "HTTP/1.1 404 Not Found\r\n"
      "Content-Length: 9\r\n"
      "\r\n"
      "not found");
  CHECK_FALSE(outcome.error);
  REQUIRE(outcome.messages.size() == 2);
  CHECK(outcome.messages[0].status == 200);
  CHECK(outcome.messages[0].body == R"({"a":"0123456"})");
  CHECK(outcome.messages[0].header("content-type") == "application/json");
  CHECK_FALSE(outcome.messages[0].header("X-Trailer"));
  CHECK(outcome.messages[0].keep_alive);
  CHECK(outcome.messages[1].status == 404);
  CHECK(outcome.messages[1].body == "not found");
  CHECK_FALSE(outcome.finished_with_message);
}

TEST_CASE("HTTP response parser reads a Connection close body until finish", "[http][parser]") {
  const std::string input =
      "HTTP/1.1 200 OK\r\n"
      "Connection: close\r\n"
      "\r\n"
      "everything until the end";
  http::ResponseParser parser;
  std::size_t consumed = 0;
  CHECK(parser.feed(input, consumed) == http::ParseStatus::NeedMore);
  CHECK(consumed == input.size());
  REQUIRE(parser.finish() == http::ParseStatus::Message);
  auto response = parser.take();
  CHECK(response.status == 200);
  CHECK(response.body == "everything until the end");
  CHECK_FALSE(response.keep_alive);

  auto outcome = responses(input);
  REQUIRE(outcome.messages.size() == 1);
  CHECK(outcome.finished_with_message);
  CHECK(same(outcome.messages[0], response));

  // With a length, Connection: close still ends at the length.
  auto framed = responses("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
  REQUIRE(framed.messages.size() == 1);
  CHECK_FALSE(framed.finished_with_message);
  CHECK_FALSE(framed.messages[0].keep_alive);

  // Nothing pending: finish() has nothing to say.
  http::ResponseParser idle;
  CHECK(idle.finish() == http::ParseStatus::NeedMore);

  // Cut short: the declared length never arrived.
  auto cut = responses("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
  CHECK(cut.messages.empty());
  CHECK(cut.error);
  CHECK_THAT(cut.error_text, Catch::Contains("closed before"));
}

TEST_CASE("HTTP parser limits on header and body size give errors", "[http][parser]") {
  http::ParserLimits limits;
  limits.max_header_bytes = 64;
  limits.max_body_bytes = 10;

  // A header section of exactly the limit passes; one byte more does not.
  const std::string head = "GET / HTTP/1.1\r\nX: ";
  std::string exact = head + std::string(64 - head.size() - 4, 'a') + "\r\n\r\n";
  REQUIRE(exact.size() == 64);
  auto fits = requests(exact, limits);
  CHECK_FALSE(fits.error);
  CHECK(fits.messages.size() == 1);
  std::string over = head + std::string(64 - head.size() - 3, 'a') + "\r\n\r\n";
  auto too_big = requests(over, limits);
  CHECK(too_big.error);
  CHECK(too_big.messages.empty());
  CHECK_THAT(too_big.error_text, Catch::StartsWith("header section too large"));

  // A header section that never ends is refused, not buffered.
  auto endless = requests("GET / HTTP/1.1\r\n" + std::string(200, 'X'), limits);
  CHECK(endless.error);
  CHECK_THAT(endless.error_text, Catch::StartsWith("header section too large"));

  // Declared too long: refused before the body arrives.
  auto declared = requests("PUT / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", limits);
  CHECK(declared.error);
  CHECK_THAT(declared.error_text, Catch::StartsWith("body too large"));
  auto body_fits = requests("PUT / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", limits);
  CHECK_FALSE(body_fits.error);
  REQUIRE(body_fits.messages.size() == 1);
  CHECK(body_fits.messages[0].body == "0123456789");

  // Chunked: counted as it arrives.
  auto chunked = requests(
      "POST / HTTP/1.1\r\nTransfer-Encoding: "
      "chunked\r\n\r\n6\r\n012345\r\n6\r\n678901\r\n0\r\n\r\n",
      limits);
  CHECK(chunked.error);
  CHECK_THAT(chunked.error_text, Catch::StartsWith("body too large"));

  // Read until close, on the response side.
  auto eof_body = responses("HTTP/1.1 200 OK\r\n\r\n" + std::string(11, 'b'), limits);
  CHECK(eof_body.error);
  CHECK_THAT(eof_body.error_text, Catch::StartsWith("body too large"));

  // The first message is still delivered before the one over the limit.
  auto second_too_big = requests("GET /ok HTTP/1.1\r\n\r\n" + over, limits);
  CHECK(second_too_big.messages.size() == 1);
  CHECK(second_too_big.error);
}

TEST_CASE("HTTP parser reports malformed input with a message", "[http][parser]") {
  for (const char* bad :
       {"GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET / HTTP/1.1\n\x01\r\n\r\n"}) {
    INFO(bad);
    auto outcome = requests(bad);
    CHECK(outcome.error);
    CHECK(outcome.messages.empty());
    CHECK_FALSE(outcome.error_text.empty());
  }
  auto garbage = requests("GARBAGE\r\n\r\n");
  CHECK_THAT(garbage.error_text, Catch::StartsWith("malformed request"));

  for (const char* bad : {"HTTP/1.1 abc OK\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "SMTP 220 hello\r\n"}) {
    INFO(bad);
    auto outcome = responses(bad);
    CHECK(outcome.error);
    CHECK(outcome.messages.empty());
    CHECK_THAT(outcome.error_text, Catch::StartsWith("malformed response"));
  }
}

TEST_CASE("HTTP request parser treats an Upgrade request as ordinary", "[http][parser]") {
  auto outcome = requests(
      "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
      "GET /next HTTP/1.1\r\n\r\n");
  CHECK_FALSE(outcome.error);
  REQUIRE(outcome.messages.size() == 2);
  CHECK(outcome.messages[1].target == "/next");
}

TEST_CASE("HTTP request parser says when a request is under way and expects 100-continue",
          "[http][parser]") {
  const std::string head =
      "PUT /big HTTP/1.1\r\nContent-Length: 3\r\nExpect:  100-CONTINUE \r\n\r\n";
  const std::string input = "\r\n" + head + "abc" + "GET /next HTTP/1.1\r\n\r\n";
  http::RequestParser parser;
  CHECK_FALSE(parser.in_request());
  CHECK_FALSE(parser.expects_continue());
  std::vector<http::Request> taken;
  // One byte at a time: only between the header section and the first body
  // byte does the request wait for "100 Continue".
  for (std::size_t fed = 1; fed <= input.size(); ++fed) {
    INFO("fed " << fed);
    std::size_t consumed = 0;
    http::ParseStatus status = parser.feed(std::string_view(input).substr(fed - 1, 1), consumed);
    CHECK(consumed == 1);
    if (status == http::ParseStatus::Message) {
      taken.push_back(parser.take());
      CHECK_FALSE(parser.in_request());
      CHECK_FALSE(parser.expects_continue());
      continue;
    }
    REQUIRE(status == http::ParseStatus::NeedMore);
    CHECK(parser.in_request());
    CHECK(parser.expects_continue() == (fed == 2 + head.size()));
  }
  REQUIRE(taken.size() == 2);
  CHECK(taken[0].body == "abc");
  CHECK(taken[1].target == "/next");

  // No 100 for HTTP/1.0, for an empty body, without the header or for
  // another expectation.
  for (const char* no_continue :
       {"PUT / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
        "PUT / HTTP/1.1\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n",
        "PUT / HTTP/1.1\r\nContent-Length: 3\r\n\r\n",
        "PUT / HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue-later\r\n\r\n"}) {
    INFO(no_continue);
    http::RequestParser other;
    std::size_t consumed = 0;
    other.feed(no_continue, consumed);
    CHECK_FALSE(other.expects_continue());
  }
  // Chunked bodies are announced too.
  http::RequestParser chunked;
  std::size_t consumed = 0;
  CHECK(
      chunked.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
                   consumed) == http::ParseStatus::NeedMore);
  CHECK(chunked.expects_continue());
}
