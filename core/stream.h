// One TCP connection, optionally wrapped in TLS, on a libuv loop.
//
// The owner receives plaintext through a Handler and writes plaintext; TLS
// (implicit, or switched on mid-stream for STARTTLS) is invisible above this
// class. Writes never block: what the kernel does not take at once is queued,
// and queued_bytes() lets a relay stop reading the other side when this one
// cannot keep up (backpressure). Read buffers are borrowed from the loop's
// thread for the length of one callback, so an idle connection holds none.
//
// Lifetime: close() is idempotent; Handler::on_closed() is the last call the
// stream makes, after which the owner may free it. No handler method is ever
// called from inside write(), close() or close_after_flush(): the owner may
// act on its own state right after calling them.
#pragma once

#include <openssl/ssl.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/address.h"
#include "core/tls_engine.h"

namespace podgate::core {

class Stream;

enum class StreamEnd {
  PeerClosed,   // orderly end of stream (FIN, or TLS close_notify)
  Reset,        // connection reset or other read error
  TlsFailed,    // handshake or record error
  WriteFailed,  // the kernel refused our bytes (peer gone)
};
const char* to_string(StreamEnd end);

class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  virtual void on_stream_data(Stream& stream, std::string_view plaintext) = 0;
  // The stream stopped reading for good; the owner decides when to close it.
  virtual void on_stream_end(Stream& stream, StreamEnd why) = 0;
  virtual void on_stream_closed(Stream& stream) = 0;
  // Outgoing connections only: status is 0 or a libuv error code.
  virtual void on_stream_connected(Stream& /*stream*/, int /*status*/) {}
  virtual void on_stream_tls_ready(Stream& /*stream*/) {}
  // Queued output fell back below the low watermark after exceeding the high one.
  virtual void on_stream_drained(Stream& /*stream*/) {}
};

class Stream {
 public:
  static constexpr std::size_t kHighWatermark = 256 * 1024;
  static constexpr std::size_t kLowWatermark = 64 * 1024;
  static constexpr std::size_t kMaxBatchBytes = 16 * 1024;

  Stream(uv_loop_t* loop, StreamHandler& handler);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Accepts a pending connection from `server`; returns a libuv error code.
  int accept_from(uv_stream_t* server);
  // Starts an outgoing connection; the result arrives in on_stream_connected.
  int connect(const SocketAddress& address);

  void start_reading();
  void stop_reading();
  bool reading() const { return reading_; }

  // Everything read from now on is TLS. Bytes written before this call go
  // out in plaintext first (the STARTTLS "OK" answer).
  bool start_tls_server(SSL_CTX* context);
  bool start_tls_client(SSL_CTX* context, const std::string& server_name,
                        const std::string& expected_ip = "");
  bool tls_active() const { return tls_ != nullptr; }
  std::string tls_version() const { return tls_ ? tls_->version() : std::string(); }
  std::string tls_error() const { return tls_ ? tls_->last_error() : std::string(); }

  void write(std::string_view plaintext);
  // Everything written and not yet taken by the kernel, batched bytes too.
  std::size_t queued_bytes() const { return queued_bytes_ + batched_bytes(); }

  // Writes made while a Batch lives leave together when the outermost one
  // ends: one send (and, with TLS, one flush) for an answer written in
  // pieces, instead of one each. Reads batch what the owner writes back on
  // the same stream by themselves. A batch holds at most kMaxBatchBytes;
  // beyond that writes go out at once, and held bytes count as queued, so
  // backpressure sees them.
  class Batch {
   public:
    explicit Batch(Stream& stream) : stream_(stream) { ++stream_.batch_depth_; }
    ~Batch() {
      if (--stream_.batch_depth_ == 0) stream_.flush_batched();
    }
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

   private:
    Stream& stream_;
  };
  bool congested() const { return queued_bytes() > kHighWatermark; }

  // Sends what is queued, then ends our direction (FIN); reading goes on,
  // since the peer may still answer (a client that half-closes after LOGOUT).
  void shutdown_write();

  // Closes at once; queued output is dropped.
  void close();
  // Sends what is queued (and a TLS close_notify), then closes.
  void close_after_flush();
  bool closing() const { return closing_; }

  SocketAddress peer() const;
  SocketAddress local() const;
  std::uint64_t bytes_read() const { return bytes_read_; }
  std::uint64_t bytes_written() const { return bytes_written_; }

 private:
  struct WriteRequest;

  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buffer);
  static void on_read(uv_stream_t* handle, ssize_t nread, const uv_buf_t* buffer);
  static void on_write(uv_write_t* request, int status);
  static void on_connect(uv_connect_t* request, int status);
  static void on_shutdown(uv_shutdown_t* request, int status);
  static void on_write_shut(uv_shutdown_t* request, int status);
  static void on_close(uv_handle_t* handle);

  void handle_ciphertext(std::string_view ciphertext);
  void handle_plaintext(std::string_view plaintext);
  void send_raw(std::string_view bytes);
  void flush_tls_output();
  // Sends what a Batch held back.
  void flush_batched();
  std::size_t batched_bytes() const {
    return batched_plaintext_.size() + (tls_ ? tls_->output_size() : 0);
  }
  void end(StreamEnd why);
  // For failures found inside write(): the owner hears of them from the loop
  // (on_stream_end just before on_stream_closed), never re-entrantly.
  void fail_soon(StreamEnd why);
  void tune_socket();

  uv_tcp_t tcp_;
  uv_connect_t connect_request_;
  uv_shutdown_t shutdown_request_;
  StreamHandler& handler_;
  std::unique_ptr<TlsEngine> tls_;
  std::size_t queued_bytes_ = 0;
  unsigned batch_depth_ = 0;
  std::string batched_plaintext_;              // held back by a Batch (without TLS)
  mutable std::optional<SocketAddress> peer_;  // asked once
  std::uint64_t bytes_read_ = 0;
  std::uint64_t bytes_written_ = 0;
  bool reading_ = false;
  bool ended_ = false;
  // Reading ended with the peer's FIN, and a write failure since is still
  // to be told: a half-closed peer that resets while we send to it.
  bool write_failure_pending_ = false;
  bool closing_ = false;
  bool drain_wanted_ = false;
  bool write_shut_ = false;
  std::optional<StreamEnd> pending_end_;
};

}  // namespace podgate::core
