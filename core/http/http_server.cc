#include "core/http/http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/stream.h"
#include "core/timer.h"

namespace podgate::core::http {

namespace {

constexpr int kBacklog = 511;
// After our last answer on a connection: how long we keep reading (and
// dropping) what the client still sends, so that closing does not reset the
// connection before the client has read the answer.
constexpr std::uint32_t kLingerMs = 2000;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

void free_handle(uv_handle_t* handle) {
  delete reinterpret_cast<uv_tcp_t*>(handle);
}

int status_for_parse_error(std::string_view error) {
  if (error.starts_with("header section too large")) return 431;
  if (error.starts_with("body too large")) return 413;
  return 400;
}

}  // namespace

struct Server::Impl {
  Impl(uv_loop_t* loop_, Handler handler_, ServerOptions options_)
      : loop(loop_), handler(std::move(handler_)), options(options_) {}

  static void on_connection(uv_stream_t* listener, int status);
  void accept(uv_stream_t* listener);
  void close_listener();

  uv_loop_t* loop;
  Handler handler;
  ServerOptions options;
  // On the heap: its close callback may run after the Server is gone.
  uv_tcp_t* listener = nullptr;
  bool closed = false;
  std::unordered_set<Connection*> connections;
};

// One accepted connection: requests parsed in order and answered at once
// (handlers are synchronous), so pipelined answers keep their order. It frees
// itself once its stream and timer are both closed.
class Server::Connection final : public StreamHandler {
 public:
  explicit Connection(Impl& server)
      : server_(&server),
        stream_(server.loop, *this),
        parser_(server.options.limits),
        timer_(
            server.loop, [this] { on_timeout(); },
            [this] {
              timer_closed_ = true;
              maybe_free();
            }),
        idle_timeout_ms_(server.options.idle_timeout_ms),
        request_timeout_ms_(server.options.request_timeout_ms) {}

  int accept(uv_stream_t* listener) {
    int status = stream_.accept_from(listener);
    if (status != 0) {
      close_now();
      return status;
    }
    stream_.start_reading();
    timer_.start(idle_timeout_ms_);
    return 0;
  }

  void close_now() {
    state_ = State::Closed;
    stream_.close();
    timer_.close();
  }

  // The server is gone: only finish closing.
  void orphan() { server_ = nullptr; }

 private:
  enum class State { Open, Lingering, Closed };
  // What timer_ measures while Open.
  enum class Wait { Idle, Request };

  void on_stream_data(Stream&, std::string_view bytes) override {
    if (state_ != State::Open) return;  // lingering: the rest is dropped
    process(bytes);
    arm_timer();
    after_input();
  }

  void on_stream_end(Stream&, StreamEnd why) override {
    if (state_ == State::Closed) return;
    if (why != StreamEnd::PeerClosed) {
      close_now();
      return;
    }
    peer_ended_ = true;
    if (state_ == State::Lingering) {
      if (stream_.queued_bytes() == 0) close_now();
      return;
    }
    after_input();
  }

  void on_stream_closed(Stream&) override {
    stream_closed_ = true;
    state_ = State::Closed;
    timer_.close();
    maybe_free();
  }

  void on_stream_drained(Stream&) override {
    if (state_ != State::Open || pending_.empty()) return;
    std::string input = std::move(pending_);
    pending_.clear();
    stream_.start_reading();
    process(input);
    arm_timer();
    after_input();
  }

  // A request under way has a deadline from its first byte that later bytes
  // do not extend; otherwise (between requests, or while the client is not
  // reading our answers) the idle timeout runs from the last activity.
  void arm_timer() {
    if (state_ != State::Open) return;
    if (pending_.empty() && parser_.in_request()) {
      if (wait_ == Wait::Request) return;
      wait_ = Wait::Request;
      timer_.start(request_timeout_ms_);
      return;
    }
    wait_ = Wait::Idle;
    timer_.start(idle_timeout_ms_);
  }

  void on_timeout() {
    if (state_ == State::Open && wait_ == Wait::Request) {
      reject(408, "request not complete within " + std::to_string(request_timeout_ms_) + " ms");
      return;
    }
    close_now();
  }

  void process(std::string_view bytes) {
    while (state_ == State::Open && !bytes.empty()) {
      if (stream_.congested()) {
        // The client is not reading its answers: hold the rest of its
        // requests (at most one read) until it does.
        pending_.assign(bytes);
        stream_.stop_reading();
        return;
      }
      std::size_t consumed = 0;
      ParseStatus status = parser_.feed(bytes, consumed);
      bytes.remove_prefix(consumed);
      if (status == ParseStatus::NeedMore) {
        // The client holds its body back until we agree to take it (an
        // announced body over the limit was already refused with 413).
        if (!continue_sent_ && parser_.expects_continue()) {
          continue_sent_ = true;
          stream_.write(kContinue);
        }
        return;
      }
      if (status == ParseStatus::Error) {
        const std::string& error = parser_.error();
        reject(status_for_parse_error(error), error);
        return;
      }
      // The next request, if any, gets a deadline of its own.
      continue_sent_ = false;
      wait_ = Wait::Idle;
      answer(parser_.take());
    }
  }

  void answer(const Request& request) {
    Response response = call_handler(request);
    if (state_ != State::Open) return;  // the handler closed the server
    response.keep_alive = response.keep_alive && request.keep_alive && server_ && !server_->closed;
    std::string wire = serialize(response);
    // A HEAD answer announces the length of the body it does not carry.
    const bool has_body = response.status / 100 != 1 && response.status != 204;
    if (request.method == "HEAD" && has_body) wire.resize(wire.size() - response.body.size());
    stream_.write(wire);
    if (!response.keep_alive) linger();
  }

  Response call_handler(const Request& request) {
    if (!server_) return Response::text(503, "Service Unavailable\n");
    try {
      return server_->handler(request);
    } catch (const std::exception&) {
      // Not the exception's text: it may quote the request.
    } catch (...) {
    }
    spdlog::error("http: handler for {} {} failed", request.method, request.path());
    return Response::text(500, "Internal Server Error\n");
  }

  void reject(int status, const std::string& error) {
    Response response =
        Response::text(status, std::string(reason_phrase(status)) + ": " + error + "\n");
    response.keep_alive = false;
    stream_.write(serialize(response));
    linger();
  }

  // No more answers: send what is queued, end our side, drop what still
  // comes in, close when the client does (or after kLingerMs).
  void linger() {
    state_ = State::Lingering;
    pending_.clear();
    stream_.shutdown_write();
    timer_.start(std::min(kLingerMs, idle_timeout_ms_));
    if (peer_ended_ && stream_.queued_bytes() == 0) close_now();
  }

  void after_input() {
    if (state_ == State::Open && peer_ended_ && pending_.empty()) linger();
  }

  void maybe_free() {
    if (!stream_closed_ || !timer_closed_) return;
    if (server_) server_->connections.erase(this);
    delete this;
  }

  Impl* server_;
  Stream stream_;
  RequestParser parser_;
  Timer timer_;
  std::uint32_t idle_timeout_ms_;
  std::uint32_t request_timeout_ms_;
  std::string pending_;
  State state_ = State::Open;
  Wait wait_ = Wait::Idle;
  bool continue_sent_ = false;  // for the request being received
  bool peer_ended_ = false;
  bool stream_closed_ = false;
  bool timer_closed_ = false;
};

void Server::Impl::on_connection(uv_stream_t* listener, int status) {
  auto* self = static_cast<Impl*>(listener->data);
  if (status != 0) {
    spdlog::warn("http: accept failed: {}", uv_strerror(status));
    return;
  }
  self->accept(listener);
}

void Server::Impl::accept(uv_stream_t* listening) {
  if (connections.size() >= options.max_connections) {
    // Over the limit: taken off the backlog and closed at once.
    auto* rejected = new uv_tcp_t;
    uv_tcp_init(loop, rejected);
    uv_accept(listening, reinterpret_cast<uv_stream_t*>(rejected));
    uv_close(reinterpret_cast<uv_handle_t*>(rejected), &free_handle);
    return;
  }
  auto* connection = new Connection(*this);
  connections.insert(connection);
  if (int status = connection->accept(listening); status != 0) {
    spdlog::warn("http: accept failed: {}", uv_strerror(status));
  }
}

void Server::Impl::close_listener() {
  if (!listener) return;
  uv_close(reinterpret_cast<uv_handle_t*>(listener), &free_handle);
  listener = nullptr;
}

Server::Server(uv_loop_t* loop, Handler handler, ServerOptions options)
    : impl_(std::make_unique<Impl>(loop, std::move(handler), options)) {}

Server::~Server() {
  close();
  // Connections still closing finish on their own.
  for (Connection* connection : impl_->connections) connection->orphan();
}

std::string Server::listen(const SocketAddress& address) {
  if (impl_->closed) return "cannot listen on " + address.text() + ": server closed";
  if (impl_->listener) return "cannot listen on " + address.text() + ": already listening";
  impl_->listener = new uv_tcp_t;
  uv_tcp_init(impl_->loop, impl_->listener);
  impl_->listener->data = impl_.get();
  int status = uv_tcp_bind(impl_->listener, address.get(), 0);
  if (status == 0) {
    status =
        uv_listen(reinterpret_cast<uv_stream_t*>(impl_->listener), kBacklog, &Impl::on_connection);
  }
  if (status != 0) {
    impl_->close_listener();
    return "cannot listen on " + address.text() + ": " + uv_strerror(status);
  }
  return "";
}

SocketAddress Server::local_address() const {
  SocketAddress address;
  if (impl_->listener) {
    int length = sizeof address.storage;
    uv_tcp_getsockname(impl_->listener, address.get(), &length);
  }
  return address;
}

void Server::close() {
  impl_->closed = true;
  impl_->close_listener();
  // Copied: a connection whose stream is already closed may free itself
  // only from the loop, but keep the iteration independent of the set.
  std::vector<Connection*> open(impl_->connections.begin(), impl_->connections.end());
  for (Connection* connection : open) connection->close_now();
}

std::size_t Server::connection_count() const {
  return impl_->connections.size();
}

}  // namespace podgate::core::http
