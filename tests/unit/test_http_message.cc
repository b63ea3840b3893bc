// HTTP messages: escapes, targets, URLs and the wire form.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "core/http/http_message.h"

namespace http = podgate::core::http;

TEST_CASE("HTTP percent decoding and encoding", "[http][message]") {
  CHECK(http::percent_decode("%41b+c", false) == "Ab+c");
  CHECK(http::percent_decode("%41b+c", true) == "Ab c");
  CHECK(http::percent_decode("a%40b%2Fc", false) == "a@b/c");
  CHECK(http::percent_decode("%e2%82%ac", false) == "\xe2\x82\xac");
  CHECK(http::percent_decode("", true) == "");
  CHECK_FALSE(http::percent_decode("%", false));
  CHECK_FALSE(http::percent_decode("%4", false));
  CHECK_FALSE(http::percent_decode("abc%zz", false));
  CHECK_FALSE(http::percent_decode("%g1", true));

  CHECK(http::percent_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(http::percent_encode("a@b c/d+e") == "a%40b%20c%2Fd%2Be");
  CHECK(http::percent_encode(std::string("\x00\xff", 2)) == "%00%FF");
  const std::string awkward = "user+tag@example.com/ä?&=%";
  CHECK(http::percent_decode(http::percent_encode(awkward), true) == awkward);
}

TEST_CASE("HTTP request targets give a decoded path and query", "[http][message]") {
  http::Request request;
  request.target = "/v1/lookup?user=a%40b&protocol=imap&q=hello+world&user=second&flag&=x";
  CHECK(request.path() == "/v1/lookup");
  auto query = request.query();
  CHECK(query.size() == 4);
  CHECK(query["user"] == "a@b");  // later duplicates ignored
  CHECK(query["protocol"] == "imap");
  CHECK(query["q"] == "hello world");
  CHECK(query["flag"] == "");

  request.target = "/v1/users/a%40b%2Bc?x=%zz&y=1#fragment";
  CHECK(request.path() == "/v1/users/a@b+c");
  query = request.query();
  CHECK(query.size() == 1);
  CHECK(query["y"] == "1");

  request.target = "/plain";
  CHECK(request.path() == "/plain");
  CHECK(request.query().empty());

  request.target = "/bad%2";
  CHECK(request.path() == "");
}

TEST_CASE("HTTP header lookup ignores case", "[http][message]") {
  http::Headers headers = {
      {"Content-Type", "application/json"}, {"X-Twice", "1"}, {"x-twice", "2"}};
  CHECK(http::find_header(headers, "content-type") == "application/json");
  CHECK(http::find_header(headers, "X-TWICE") == "1");
  CHECK_FALSE(http::find_header(headers, "Content-Length"));
  http::Request request;
  request.headers = headers;
  CHECK(request.header("CONTENT-TYPE") == "application/json");
}

TEST_CASE("HTTP response helpers set the content type", "[http][message]") {
  auto json = http::Response::json(201, "{}");
  CHECK(json.status == 201);
  CHECK(json.body == "{}");
  CHECK(json.header("content-type") == "application/json");
  auto text = http::Response::text(200, "metric 1\n");
  CHECK(text.header("Content-Type")->starts_with("text/plain"));
  CHECK(std::string(http::reason_phrase(404)) == "Not Found");
  CHECK(std::string(http::reason_phrase(431)) == "Request Header Fields Too Large");
  CHECK(std::string(http::reason_phrase(799)) == "Unknown");
}

TEST_CASE("HTTP requests serialize with Host and framing headers", "[http][message]") {
  http::Request get;
  get.method = "GET";
  get.target = "/v1/lookup?user=a%40b";
  get.headers = {{"Accept", "application/json"}, {"Content-Length", "99"}, {"Host", "evil"}};
  CHECK(http::serialize(get, "127.0.0.1:9930") ==
        "GET /v1/lookup?user=a%40b HTTP/1.1\r\nHost: 127.0.0.1:9930\r\n"
        "Accept: application/json\r\n\r\n");

  http::Request put;
  put.method = "PUT";
  put.target = "/v1/users/a";
  put.body = R"({"pod":"pod-1"})";
  put.keep_alive = false;
  CHECK(http::serialize(put, "[::1]:80") ==
        "PUT /v1/users/a HTTP/1.1\r\nHost: [::1]:80\r\nContent-Length: 15\r\n"
        "Connection: close\r\n\r\n{\"pod\":\"pod-1\"}");

  http::Request empty_post;
  empty_post.method = "POST";
  empty_post.target = "/reload";
  CHECK(http::serialize(empty_post, "h") ==
        "POST /reload HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");

  http::Request injected;
  injected.method = "GET";
  injected.target = "/";
  injected.headers = {{"X-Evil", "a\r\nInjected: yes"}, {"X-Fine", "ok"}};
  CHECK(http::serialize(injected, "h") == "GET / HTTP/1.1\r\nHost: h\r\nX-Fine: ok\r\n\r\n");
}

TEST_CASE("HTTP responses serialize with Content-Length always", "[http][message]") {
  auto ok = http::Response::json(200, "{}");
  CHECK(http::serialize(ok) ==
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");

  http::Response empty;
  empty.status = 404;
  empty.keep_alive = false;
  CHECK(http::serialize(empty) ==
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");

  http::Response no_content;
  no_content.status = 204;
  no_content.body = "ignored";
  CHECK(http::serialize(no_content) == "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST_CASE("HTTP URLs parse numeric hosts, ports and paths", "[http][message]") {
  auto url = http::parse_url("http://127.0.0.1:9930/base");
  CHECK(url.host == "127.0.0.1");
  CHECK(url.port == 9930);
  CHECK(url.path == "/base");
  CHECK(url.text == "http://127.0.0.1:9930/base");

  url = http::parse_url("http://10.1.2.3");
  CHECK(url.host == "10.1.2.3");
  CHECK(url.port == 80);
  CHECK(url.path == "");

  url = http::parse_url("http://[::1]:8080/a/b?c=d");
  CHECK(url.host == "::1");
  CHECK(url.port == 8080);
  CHECK(url.path == "/a/b?c=d");

  url = http::parse_url("http://[2001:db8::5]/");
  CHECK(url.host == "2001:db8::5");
  CHECK(url.port == 80);
  CHECK(url.path == "/");
}

TEST_CASE("HTTP URLs that are not plain numeric http are refused", "[http][message]") {
  for (const char* bad :
       {"https://127.0.0.1/", "ftp://1.2.3.4", "127.0.0.1:80", "http://", "http:///path",
        "http://localhost:80/", "http://example.com", "http://1.2.3/", "http://1.2.3.4:0",
        "http://1.2.3.4:65536", "http://1.2.3.4:", "http://1.2.3.4:8a", "http://[::1",
        "http://[::1]x", "http://[nothex]/", "http://user@1.2.3.4/", "http://1.2.3.4?x=1",
        "http://1.2.3.4/a b"}) {
    INFO(bad);
    CHECK_THROWS_AS(http::parse_url(bad), std::invalid_argument);
  }
  CHECK_THROWS_WITH(http::parse_url("http://localhost/"), Catch::Contains("numeric"));
  CHECK_THROWS_WITH(http::parse_url("https://1.2.3.4/"), Catch::Contains("http://"));
}
