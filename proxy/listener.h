// A listening socket that hands each accepted connection to a new session of
// its protocol.
#pragma once

#include <uv.h>

#include <string>

#include "proxy/config.h"
#include "proxy/worker.h"

namespace podgate::proxy {

class Listener {
 public:
  Listener(Worker& worker, const ListenerConfig& config);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // SO_REUSEPORT would let a second podgate share the port silently, so
  // before any worker binds, a plain bind checks that nobody listens there;
  // "" when free, else a message naming the address.
  static std::string check_address_free(const ListenerConfig& config);
  // Binds and listens; on failure returns a message naming the address.
  std::string start();
  // Stops accepting. The handle is closed by the loop; the listener must
  // outlive the loop run.
  void close();

 private:
  static void on_connection(uv_stream_t* server, int status);

  Worker& worker_;
  const ListenerConfig& config_;
  uv_tcp_t tcp_;
};

}  // namespace podgate::proxy
