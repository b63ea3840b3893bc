// HTTP/1.1 messages as podgate's small servers and clients see them: the
// admin APIs of podgate and podgate-directory, the directory lookups and
// nginx's auth_http protocol. Bodies are whole strings (all of them small).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace podgate::core::http {

// Header names are compared case-insensitively; kept as received.
using Headers = std::vector<std::pair<std::string, std::string>>;

// The first value of a header, or nullopt.
std::optional<std::string> find_header(const Headers& headers, std::string_view name);

struct Request {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // as on the request line: "/v1/lookup?user=a%40b&protocol=imap"
  Headers headers;
  std::string body;
  bool keep_alive = true;

  // The target's path, percent-decoded ("/v1/users/a@b"); "" when an escape
  // in it is malformed (so no route matches it).
  std::string path() const;
  // The decoded query parameters ("+" is a space); later duplicates ignored,
  // as are parameters with a malformed escape or an empty name.
  std::map<std::string, std::string> query() const;
  std::optional<std::string> header(std::string_view name) const {
    return find_header(headers, name);
  }
};

struct Response {
  int status = 200;
  Headers headers;  // Content-Length and Connection are added when sent
  std::string body;
  bool keep_alive = true;  // client side: whether the server keeps the connection

  std::optional<std::string> header(std::string_view name) const {
    return find_header(headers, name);
  }
  // A JSON body with its Content-Type.
  static Response json(int status, std::string body);
  // Prometheus text exposition format.
  static Response text(int status, std::string body);
};

// "%41b+c" -> "Ab c" (plus_is_space for query strings). nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);
// Escapes everything but unreserved characters (RFC 3986 section 2.3).
std::string percent_encode(std::string_view text);
const char* reason_phrase(int status);

// The wire form, with Content-Length (and Connection: close when the message
// says the connection ends). The caller's Content-Length, Transfer-Encoding
// and Connection headers (and Host, for requests) are replaced by ours;
// headers containing CR, LF or NUL are dropped. A request gets Content-Length
// when it has a body or is a PUT/POST; a response always does, except 1xx and
// 204, which carry no body at all.
std::string serialize(const Request& request, std::string_view host);
std::string serialize(const Response& response);

// "http://127.0.0.1:9930/base" -> host "127.0.0.1", port 9930, path "/base"
// ("" when absent). Only http://, only numeric IPv4/IPv6 hosts ("[::1]";
// host is then "::1", without brackets).
struct Url {
  std::string host;
  std::uint16_t port = 80;
  std::string path;
  std::string text;  // as given, for logs
};
// Throws std::invalid_argument naming the problem.
Url parse_url(std::string_view text);

}  // namespace podgate::core::http
