// A small HTTP/1.1 server on a libuv loop, for admin and directory APIs on
// loopback or a management network: plain TCP, keep-alive, pipelining
// answered in order, limits on header and body size, an idle timeout between
// requests and a deadline for each request to arrive, "100 Continue".
// Handlers answer synchronously (every route here is in-memory work).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include "core/address.h"
#include "core/http/http_message.h"
#include "core/http/http_parser.h"

namespace podgate::core::http {

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  ParserLimits limits;
  // Between requests (and before the first): how long a connection may stay
  // silent before it is closed.
  std::uint32_t idle_timeout_ms = 60'000;
  // From the first byte of a request until it is complete; then it is
  // answered 408 and the connection closed (a client dribbling bytes cannot
  // hold a connection slot).
  std::uint32_t request_timeout_ms = 10'000;
  std::size_t max_connections = 1024;
};

class Server {
 public:
  Server(uv_loop_t* loop, Handler handler, ServerOptions options = {});
  ~Server();  // the loop must have run the close callbacks (call close() first)
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; returns "" or a message naming the address and error.
  std::string listen(const SocketAddress& address);
  // The bound address (port 0 resolved).
  SocketAddress local_address() const;
  // Stops listening and closes every connection. Idempotent.
  void close();
  std::size_t connection_count() const;

 private:
  class Connection;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace podgate::core::http
