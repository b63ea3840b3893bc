// Pure HTTP/1.1 message parsers over llhttp: bytes in, whole messages out, no
// I/O, bounded memory. Fed in any split, they give the same messages.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/http/http_message.h"

namespace podgate::core::http {

struct ParserLimits {
  std::size_t max_header_bytes = 16 * 1024;  // request/status line and headers
  std::size_t max_body_bytes = 1024 * 1024;
};

enum class ParseStatus {
  NeedMore,  // everything fed so far belongs to an unfinished message
  Message,   // a whole message is ready: take() it, then feed the rest
  Error,     // malformed or over a limit; error() says why. Final.
};

// Parses one stream of requests (keep-alive, pipelined).
class RequestParser {
 public:
  explicit RequestParser(ParserLimits limits = {});
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Consumes bytes up to the end of the next complete message (or all of
  // them). `consumed` says how many were used: feed the rest after take().
  ParseStatus feed(std::string_view bytes, std::size_t& consumed);
  Request take();
  const std::string& error() const;

  // After NeedMore: whether bytes of a request not yet complete have been
  // fed (a server's request deadline runs from its first byte).
  bool in_request() const;
  // After NeedMore: whether the current request's header section is complete
  // and it waits for "100 Continue" before sending its body (HTTP/1.1,
  // "Expect: 100-continue", a body announced and none of it fed yet).
  bool expects_continue() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Parses the responses on one client connection, in order.
class ResponseParser {
 public:
  explicit ResponseParser(ParserLimits limits = {});
  ~ResponseParser();
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  ParseStatus feed(std::string_view bytes, std::size_t& consumed);
  // The peer closed: a response without a length ends here. Returns Message
  // when that completed one, Error when a message was cut short, NeedMore
  // when nothing was pending.
  ParseStatus finish();
  Response take();
  const std::string& error() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace podgate::core::http
