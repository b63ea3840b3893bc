#include "proxy/listener.h"

#include <spdlog/spdlog.h>

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

std::string Listener::start() {
  int status = uv_tcp_bind(&tcp_, config_.address.get(), 0);
  if (status == 0) {
    status = uv_listen(reinterpret_cast<uv_stream_t*>(&tcp_), kBacklog, &Listener::on_connection);
  }
  if (status != 0) return "cannot listen on " + config_.listen + ": " + uv_strerror(status);
  return "";
}

void Listener::close() {
  auto* handle = reinterpret_cast<uv_handle_t*>(&tcp_);
  if (!uv_is_closing(handle)) uv_close(handle, nullptr);
}

void Listener::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<Listener*>(server->data);
  if (status != 0) {
    spdlog::warn("accept on {} failed: {}", self->config_.listen, uv_strerror(status));
    return;
  }
  switch (self->config_.protocol) {
    case directory::Protocol::Imap:
      ImapSession::accept(self->worker_, server, self->config_);
      break;
    case directory::Protocol::Pop3:
      Pop3Session::accept(self->worker_, server, self->config_);
      break;
    case directory::Protocol::Smtp:
      SmtpSession::accept(self->worker_, server, self->config_);
      break;
  }
}

}  // namespace podgate::proxy
