#include "core/stream.h"

#include <cstring>
#include <utility>

namespace podgate::core {

const char* to_string(StreamEnd end) {
  switch (end) {
    case StreamEnd::PeerClosed:
      return "peer_closed";
    case StreamEnd::Reset:
      return "reset";
    case StreamEnd::TlsFailed:
      return "tls_failed";
    case StreamEnd::WriteFailed:
      return "write_failed";
  }
  return "unknown";
}

namespace {
// One read buffer per loop thread, lent to whichever connection is being read:
// data is consumed before the read callback returns.
constexpr std::size_t kReadBufferSize = 64 * 1024;
thread_local char read_buffer[kReadBufferSize];
thread_local std::string decrypted;
}  // namespace

struct Stream::WriteRequest {
  uv_write_t request;
  Stream* stream;
  std::string bytes;
};

Stream::Stream(uv_loop_t* loop, StreamHandler& handler) : handler_(handler) {
  uv_tcp_init(loop, &tcp_);
  tcp_.data = this;
}

Stream::~Stream() = default;

void Stream::tune_socket() {
  // Logins are chatty request/response exchanges: never wait for Nagle.
  uv_tcp_nodelay(&tcp_, 1);
}

int Stream::accept_from(uv_stream_t* server) {
  int status = uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_));
  if (status == 0) tune_socket();
  return status;
}

int Stream::connect(const SocketAddress& address) {
  connect_request_.data = this;
  return uv_tcp_connect(&connect_request_, &tcp_, address.get(), &Stream::on_connect);
}

void Stream::on_connect(uv_connect_t* request, int status) {
  auto* self = static_cast<Stream*>(request->data);
  if (status == UV_ECANCELED || self->closing_) return;
  if (status == 0) self->tune_socket();
  self->handler_.on_stream_connected(*self, status);
}

void Stream::start_reading() {
  if (reading_ || ended_ || closing_) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Stream::on_alloc, &Stream::on_read) ==
      0) {
    reading_ = true;
  }
}

void Stream::stop_reading() {
  if (!reading_) return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  reading_ = false;
}

bool Stream::start_tls_server(SSL_CTX* context) {
  flush_batched();  // the STARTTLS answer goes out in plaintext
  tls_ = TlsEngine::server(context);
  return tls_ != nullptr;
}

bool Stream::start_tls_client(SSL_CTX* context, const std::string& server_name,
                              const std::string& expected_ip) {
  flush_batched();
  tls_ = TlsEngine::client(context, server_name, expected_ip);
  if (!tls_ || tls_->start_handshake() != TlsEngine::Status::Ok) return false;
  flush_tls_output();
  return true;
}

void Stream::on_alloc(uv_handle_t*, std::size_t, uv_buf_t* buffer) {
  *buffer = uv_buf_init(read_buffer, kReadBufferSize);
}

void Stream::on_read(uv_stream_t* handle, ssize_t nread, const uv_buf_t* buffer) {
  auto* self = static_cast<Stream*>(handle->data);
  if (nread == 0 || self->closing_) return;
  if (nread < 0) {
    self->end(nread == UV_EOF ? StreamEnd::PeerClosed : StreamEnd::Reset);
    return;
  }
  std::string_view bytes(buffer->base, static_cast<std::size_t>(nread));
  Batch batch(*self);  // what the owner answers on this stream leaves in one send
  if (self->tls_) {
    self->handle_ciphertext(bytes);
  } else {
    self->handle_plaintext(bytes);
  }
}

void Stream::handle_plaintext(std::string_view plaintext) {
  bytes_read_ += plaintext.size();
  handler_.on_stream_data(*this, plaintext);
}

void Stream::handle_ciphertext(std::string_view ciphertext) {
  // The end of the handshake (session tickets) and the owner's first words
  // (a greeting) leave in one send.
  Batch batch(*this);
  bool was_ready = tls_->handshake_done();
  decrypted.clear();
  TlsEngine::Status status = tls_->receive(ciphertext, decrypted);
  if (!was_ready && tls_->handshake_done() && !closing_) handler_.on_stream_tls_ready(*this);
  // Reads never nest, so the thread's buffer is free until this returns.
  if (!decrypted.empty() && !closing_ && !ended_) handle_plaintext(decrypted);
  if (closing_) return;
  if (status == TlsEngine::Status::Failed) end(StreamEnd::TlsFailed);
  if (status == TlsEngine::Status::Closed) end(StreamEnd::PeerClosed);
}

void Stream::write(std::string_view plaintext) {
  if (closing_ || plaintext.empty()) return;
  bytes_written_ += plaintext.size();
  bool hold = batch_depth_ > 0 && batched_bytes() + plaintext.size() <= kMaxBatchBytes;
  if (!tls_) {
    if (hold) {
      batched_plaintext_.append(plaintext);
    } else {
      flush_batched();  // what was held goes first
      send_raw(plaintext);
    }
    return;
  }
  if (tls_->send(plaintext) != TlsEngine::Status::Ok) {
    fail_soon(StreamEnd::TlsFailed);
    return;
  }
  if (!hold) flush_tls_output();
}

void Stream::flush_batched() {
  if (closing_ && uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) return;
  if (!batched_plaintext_.empty()) send_raw(std::exchange(batched_plaintext_, {}));
  flush_tls_output();
}

void Stream::flush_tls_output() {
  if (tls_ && tls_->has_output()) send_raw(tls_->take_output());
}

void Stream::send_raw(std::string_view bytes) {
  if (closing_ && uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) return;
  auto* handle = reinterpret_cast<uv_stream_t*>(&tcp_);
  if (queued_bytes_ == 0) {
    // Most answers fit in the socket buffer: no copy, no request allocation.
    uv_buf_t direct = uv_buf_init(const_cast<char*>(bytes.data()), bytes.size());
    int written = uv_try_write(handle, &direct, 1);
    if (written > 0) bytes.remove_prefix(static_cast<std::size_t>(written));
    if (bytes.empty()) return;
    // On a hard error (peer reset) fall through: uv_write reports it from
    // the loop, never from inside this call, where the owner is mid-action.
  }
  auto* request = new WriteRequest{{}, this, std::string(bytes)};
  request->request.data = request;
  uv_buf_t buffer = uv_buf_init(request->bytes.data(), request->bytes.size());
  if (uv_write(&request->request, handle, &buffer, 1, &Stream::on_write) != 0) {
    delete request;
    fail_soon(StreamEnd::WriteFailed);
    return;
  }
  queued_bytes_ += bytes.size();
  if (queued_bytes_ > kHighWatermark) drain_wanted_ = true;
}

void Stream::on_write(uv_write_t* raw, int status) {
  std::unique_ptr<WriteRequest> request(static_cast<WriteRequest*>(raw->data));
  Stream* self = request->stream;
  self->queued_bytes_ -= request->bytes.size();
  if (status < 0) {
    if (!self->closing_) self->end(StreamEnd::WriteFailed);
    return;
  }
  if (self->drain_wanted_ && self->queued_bytes_ <= kLowWatermark && !self->closing_) {
    self->drain_wanted_ = false;
    self->handler_.on_stream_drained(*self);
  }
}

void Stream::end(StreamEnd why) {
  if (ended_) {
    // The peer's FIN ended reading, but what we still send may fail (it
    // reset meanwhile): the owner hears of that too, once, or it would
    // wait for bytes that can never leave.
    if (why != StreamEnd::WriteFailed || !write_failure_pending_) return;
    write_failure_pending_ = false;
    handler_.on_stream_end(*this, why);
    return;
  }
  ended_ = true;
  write_failure_pending_ = why == StreamEnd::PeerClosed;
  stop_reading();
  handler_.on_stream_end(*this, why);
}

void Stream::fail_soon(StreamEnd why) {
  if ((ended_ && !write_failure_pending_) || pending_end_) return;
  pending_end_ = why;
  close();
}

void Stream::close() {
  auto* handle = reinterpret_cast<uv_handle_t*>(&tcp_);
  closing_ = true;
  if (uv_is_closing(handle)) return;
  stop_reading();
  uv_close(handle, &Stream::on_close);
}

void Stream::close_after_flush() {
  if (closing_) return;
  flush_batched();
  if (tls_ && tls_->handshake_done()) {
    tls_->shutdown();
    flush_tls_output();
  }
  closing_ = true;
  stop_reading();
  shutdown_request_.data = this;
  // A shutdown already under way (shutdown_write) cannot be requested twice.
  if (queued_bytes_ == 0 || write_shut_ ||
      uv_shutdown(&shutdown_request_, reinterpret_cast<uv_stream_t*>(&tcp_),
                  &Stream::on_shutdown) != 0) {
    close();
  }
}

void Stream::shutdown_write() {
  if (closing_ || write_shut_) return;
  write_shut_ = true;
  flush_batched();
  if (tls_ && tls_->handshake_done()) {
    tls_->shutdown();
    flush_tls_output();
  }
  shutdown_request_.data = this;
  if (uv_shutdown(&shutdown_request_, reinterpret_cast<uv_stream_t*>(&tcp_),
                  &Stream::on_write_shut) != 0) {
    fail_soon(StreamEnd::WriteFailed);
  }
}

void Stream::on_write_shut(uv_shutdown_t*, int) {
  // Nothing to do: the peer's answer, or its end, arrives through reading.
}

void Stream::on_shutdown(uv_shutdown_t* request, int) {
  static_cast<Stream*>(request->data)->close();
}

void Stream::on_close(uv_handle_t* handle) {
  auto* self = static_cast<Stream*>(handle->data);
  if (self->pending_end_ && !self->ended_) {
    self->ended_ = true;
    self->handler_.on_stream_end(*self, *self->pending_end_);
  } else if (self->pending_end_ && self->write_failure_pending_) {
    // Sending failed after the peer's FIN (write error or TLS failure).
    self->write_failure_pending_ = false;
    self->handler_.on_stream_end(*self, *self->pending_end_);
  }
  self->handler_.on_stream_closed(*self);  // may delete self
}

SocketAddress Stream::peer() const {
  if (peer_) return *peer_;
  SocketAddress address;
  int length = sizeof address.storage;
  if (uv_tcp_getpeername(&tcp_, address.get(), &length) == 0) peer_ = address;
  return address;
}

SocketAddress Stream::local() const {
  SocketAddress address;
  int length = sizeof address.storage;
  uv_tcp_getsockname(&tcp_, address.get(), &length);
  return address;
}

}  // namespace podgate::core
