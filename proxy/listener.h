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
  // Paused at limits.max_connections: accepts the waiting connection if a
  // place is free now (else stays paused and asks to be woken again).
  void resume_if_paused();

 private:
  static void on_connection(uv_stream_t* server, int status);
  // Takes a place under limits.max_connections; false at the cap.
  bool take_place();
  void accept_session();

  Worker& worker_;
  const ListenerConfig& config_;
  uv_tcp_t tcp_;
  // At the cap the connection callback returns without uv_accept: libuv then
  // holds that one connection and stops polling the socket (the rest wait
  // in the kernel's backlog) until uv_accept is called.
  bool paused_ = false;
};

}  // namespace podgate::proxy
