#include "proxy/listener.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proxy/protection/connection_limits.h"
#include "proxy/session/imap_session.h"
#include "proxy/session/pop3_session.h"
#include "proxy/session/smtp_session.h"

namespace podgate::proxy {

namespace {
constexpr int kBacklog = 1024;
}

Listener::Listener(Worker& worker, const ListenerConfig& config)
    : worker_(worker), config_(config) {
  uv_tcp_init(worker.loop, &tcp_);
  tcp_.data = this;
}

namespace {
socklen_t address_length(const sockaddr* address) {
  return address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}
}  // namespace

std::string Listener::check_address_free(const ListenerConfig& config) {
  const sockaddr* address = config.address.get();
  int fd = ::socket(address->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "cannot listen on " + config.listen + ": " + std::strerror(errno);
  int on = 1;
  std::string problem;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      ::bind(fd, address, address_length(address)) != 0) {
    problem = "cannot listen on " + config.listen + ": " + std::strerror(errno);
    if (errno == EADDRINUSE) problem += " (another podgate still running?)";
  }
  ::close(fd);
  return problem;
}

std::string Listener::start() {
  // Every worker binds its own socket to the same address; SO_REUSEPORT
  // lets the kernel spread new connections over them, so no worker's
  // accept waits on another's. libuv has no flag for it here, hence the
  // socket made by hand and handed over.
  const sockaddr* address = config_.address.get();
  socklen_t length = address_length(address);
  int fd = ::socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return "cannot listen on " + config_.listen + ": " + std::strerror(errno);
  int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0 ||
      ::bind(fd, address, length) != 0) {
    std::string problem = std::strerror(errno);
    ::close(fd);
    return "cannot listen on " + config_.listen + ": " + problem;
  }
  int status = uv_tcp_open(&tcp_, fd);
  if (status != 0) {
    ::close(fd);
  } else {
    status = uv_listen(reinterpret_cast<uv_stream_t*>(&tcp_), kBacklog, &Listener::on_connection);
  }
  if (status != 0) return "cannot listen on " + config_.listen + ": " + uv_strerror(status);
  return "";
}

void Listener::close() {
  auto* handle = reinterpret_cast<uv_handle_t*>(&tcp_);
  if (uv_is_closing(handle)) return;
  // libuv closes the connection it held for us along with the handle.
  if (paused_) {
    paused_ = false;
    worker_.connection_limits->budget.listener_resumed();
  }
  uv_close(handle, nullptr);
}

void Listener::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<Listener*>(server->data);
  if (status != 0) {
    spdlog::warn("accept on {} failed: {}", self->config_.listen, uv_strerror(status));
    return;
  }
  if (!self->take_place()) {
    self->paused_ = true;
    self->worker_.connection_limits->budget.listener_paused();
    return;
  }
  self->accept_session();
}

bool Listener::take_place() {
  if (!worker_.connection_limits) return true;
  ConnectionBudget& budget = worker_.connection_limits->budget;
  if (budget.try_acquire()) return true;
  // Full: ask to be woken when a place frees up, then look once more, as a
  // place freed between the failed try and the request would wake nobody.
  budget.wake_on_release(worker_.budget_waiter);
  return budget.try_acquire();
}

void Listener::resume_if_paused() {
  auto* handle = reinterpret_cast<uv_handle_t*>(&tcp_);
  if (!paused_ || uv_is_closing(handle) || !take_place()) return;
  paused_ = false;
  worker_.connection_limits->budget.listener_resumed();
  // Accepting the held connection makes libuv poll the socket again.
  accept_session();
}

// The session owns the place taken in take_place() and gives it back when
// it is freed.
void Listener::accept_session() {
  auto* server = reinterpret_cast<uv_stream_t*>(&tcp_);
  worker_.connections_accepted->add();
  switch (config_.protocol) {
    case directory::Protocol::Imap:
      ImapSession::accept(worker_, server, config_);
      break;
    case directory::Protocol::Pop3:
      Pop3Session::accept(worker_, server, config_);
      break;
    case directory::Protocol::Smtp:
      SmtpSession::accept(worker_, server, config_);
      break;
  }
}

}  // namespace podgate::proxy
