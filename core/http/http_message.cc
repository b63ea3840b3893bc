#include "core/http/http_message.h"

#include <arpa/inet.h>

#include <stdexcept>
#include <string>

namespace podgate::core::http {

namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// A header that would break the framing (CR, LF or NUL smuggled into it by
// a handler echoing user input) is dropped rather than sent.
bool safe_header(const std::pair<std::string, std::string>& header) {
  if (header.first.empty()) return false;
  for (char c : header.first) {
    if (c == '\r' || c == '\n' || c == '\0' || c == ':' || c == ' ' || c == '\t') return false;
  }
  for (char c : header.second) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// Framing headers are ours to write, never the caller's.
bool framing_header(std::string_view name) {
  return equals_ignoring_case(name, "Content-Length") ||
         equals_ignoring_case(name, "Transfer-Encoding") ||
         equals_ignoring_case(name, "Connection");
}

void append_headers(std::string& out, const Headers& headers, bool skip_host) {
  for (const auto& header : headers) {
    if (!safe_header(header) || framing_header(header.first)) continue;
    if (skip_host && equals_ignoring_case(header.first, "Host")) continue;
    out += header.first;
    out += ": ";
    out += header.second;
    out += "\r\n";
  }
}

std::string_view target_path(std::string_view target) {
  return target.substr(0, target.find_first_of("?#"));
}

}  // namespace

std::optional<std::string> find_header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (equals_ignoring_case(key, name)) return value;
  }
  return std::nullopt;
}

std::string Request::path() const {
  return percent_decode(target_path(target), false).value_or(std::string());
}

std::map<std::string, std::string> Request::query() const {
  std::map<std::string, std::string> parameters;
  std::string_view rest(target);
  std::size_t question = rest.find('?');
  if (question == std::string_view::npos) return parameters;
  rest.remove_prefix(question + 1);
  rest = rest.substr(0, rest.find('#'));
  while (!rest.empty()) {
    std::size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t equals = pair.find('=');
    auto key = percent_decode(pair.substr(0, equals), true);
    auto value = percent_decode(
        equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1), true);
    if (!key || !value || key->empty()) continue;
    parameters.emplace(std::move(*key), std::move(*value));
  }
  return parameters;
}

namespace {
Response with_body(int status, const char* content_type, std::string body) {
  Response response;
  response.status = status;
  response.headers.emplace_back("Content-Type", content_type);
  response.body = std::move(body);
  return response;
}
}  // namespace

Response Response::json(int status, std::string body) {
  return with_body(status, "application/json", std::move(body));
}

Response Response::text(int status, std::string body) {
  return with_body(status, "text/plain; version=0.0.4; charset=utf-8", std::move(body));
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int high = hex_value(text[i + 1]);
      int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (is_unreserved(c)) {
      out += c;
    } else {
      auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
  }
  return "Unknown";
}

std::string serialize(const Request& request, std::string_view host) {
  std::string out;
  out.reserve(128 + request.target.size() + request.body.size());
  out += request.method.empty() ? "GET" : request.method;
  out += ' ';
  out += request.target.empty() ? "/" : request.target;
  out += " HTTP/1.1\r\nHost: ";
  out += host;
  out += "\r\n";
  append_headers(out, request.headers, true);
  if (!request.body.empty() || request.method == "PUT" || request.method == "POST") {
    out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  }
  if (!request.keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  out += request.body;
  return out;
}

std::string serialize(const Response& response) {
  // 1xx and 204 answers have no body and may not announce one.
  const bool bodyless = response.status / 100 == 1 || response.status == 204;
  std::string out;
  out.reserve(128 + (bodyless ? 0 : response.body.size()));
  out +=
      "HTTP/1.1 " + std::to_string(response.status) + " " + reason_phrase(response.status) + "\r\n";
  append_headers(out, response.headers, false);
  if (!bodyless) out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  if (!response.keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  if (!bodyless) out += response.body;
  return out;
}

Url parse_url(std::string_view text) {
  auto fail = [&](const std::string& why) {
    return std::invalid_argument("bad URL \"" + std::string(text) + "\": " + why);
  };
  constexpr std::string_view kScheme = "http://";
  if (text.size() < kScheme.size() ||
      !equals_ignoring_case(text.substr(0, kScheme.size()), kScheme)) {
    throw fail("only http:// URLs are supported");
  }
  Url url;
  url.text = std::string(text);
  std::string_view rest = text.substr(kScheme.size());
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) throw fail("user info is not supported");
  if (authority.find_first_of("?#") != std::string_view::npos) {
    throw fail("a query or fragment needs a path");
  }

  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) throw fail("unterminated IPv6 address");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw fail("unexpected text after the IPv6 address");
      has_port = true;
      port_text = after.substr(1);
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, url.host.c_str(), &v6) != 1) throw fail("not an IPv6 address");
  } else {
    std::size_t colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
    if (url.host.empty()) throw fail("no host");
    in_addr v4{};
    if (inet_pton(AF_INET, url.host.c_str(), &v4) != 1) {
      throw fail("the host must be a numeric IPv4 address or a bracketed IPv6 address");
    }
  }
  if (has_port) {
    if (port_text.empty() || port_text.size() > 5) throw fail("bad port");
    unsigned long port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') throw fail("bad port");
      port = port * 10 + static_cast<unsigned long>(c - '0');
    }
    if (port == 0 || port > 65535) throw fail("port out of range");
    url.port = static_cast<std::uint16_t>(port);
  }
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) throw fail("bad character in the path");
  }
  url.path = std::string(path);
  return url;
}

}  // namespace podgate::core::http
