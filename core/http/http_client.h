// An HTTP/1.1 client for one origin on a libuv loop: a pool of keep-alive
// connections, at most `max_connections` at once (requests queue behind
// them), a deadline per request covering connect, send and the answer.
// Used for directory lookups and nginx-style auth_http requests.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/http/http_message.h"
#include "core/http/http_parser.h"

namespace podgate::core::http {

struct ClientResult {
  bool ok = false;    // a whole response arrived (any status)
  std::string error;  // when !ok: "connect: connection refused", "timeout", ...
  Response response;
};

using ResponseCallback = std::function<void(ClientResult)>;

struct ClientOptions {
  std::size_t max_connections = 8;
  std::size_t max_idle_connections = 8;
  std::uint32_t request_timeout_ms = 1000;
  ParserLimits limits;
};

class Client {
 public:
  // Throws std::invalid_argument for a host that is not a numeric address.
  Client(uv_loop_t* loop, const Url& origin, ClientOptions options = {});
  // Pending callbacks are never called after destruction (close() first so
  // the loop can finish closing the sockets).
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends the request on an idle pooled connection, a new one, or after a
  // queued request. The callback runs once, always from the loop (never
  // from inside request()). An idempotent request (GET, HEAD, PUT, DELETE,
  // OPTIONS) that failed on a reused keep-alive connection before any answer
  // byte is retried once on a new connection; any other (POST) gets the error,
  // since the server may have acted on it.
  // request.target is sent as given (origin().path is not prepended). A
  // request after close() fails with "closed", from the loop. Responses to
  // HEAD are not supported (the body a HEAD answer announces is awaited).
  void request(Request request, ResponseCallback callback);
  // Fails every pending request with "closed" and closes the connections.
  // Those callbacks run synchronously, inside close(), in request order; a
  // result already received but not yet delivered also becomes "closed".
  void close();

  const Url& origin() const;
  std::size_t open_connections() const;

 private:
  class Connection;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace podgate::core::http
