#include "core/http/http_client.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <stdexcept>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/address.h"
#include "core/stream.h"

namespace podgate::core::http {

namespace {

std::string host_header(const Url& origin) {
  std::string host = bracketed_host(origin.host);
  if (origin.port != 80) {
    host += ':';  // not ":" + std::to_string(): GCC 12's -Wrestrict misreads it (bug 105329)
    host += std::to_string(origin.port);
  }
  return host;
}

SocketAddress origin_address(const Url& origin) {
  auto address =
      parse_socket_address(bracketed_host(origin.host) + ":" + std::to_string(origin.port));
  if (!address) {
    throw std::invalid_argument("HTTP client origin \"" + origin.text +
                                "\": the host is not a numeric address");
  }
  return *address;
}

bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS";
}

}  // namespace

struct Client::Impl {
  Impl(uv_loop_t* loop_, const Url& origin_, ClientOptions options_)
      : loop(loop_),
        origin(origin_),
        options(options_),
        address(origin_address(origin_)),
        host(host_header(origin_)) {
    if (options.max_connections == 0) options.max_connections = 1;
  }
  ~Impl();

  // One request from request() until its callback. Its timer is first the
  // deadline, then (with a zero delay) the delivery of the result, so that
  // callbacks always run from the loop with nothing of ours on the stack.
  struct Call {
    enum class Phase { Waiting, Done };

    Impl* impl;  // null once delivered or the client is gone
    std::uint64_t sequence;
    std::string wire;
    bool keep_alive;
    ResponseCallback callback;
    ClientResult result;
    uv_timer_t timer;
    Phase phase = Phase::Waiting;
    Connection* connection = nullptr;  // the connection carrying it
    bool queued = false;
    bool retried = false;
    bool idempotent = false;  // may be sent again (RFC 9110 section 9.2.2)
  };

  static void free_call(uv_handle_t* handle) { delete static_cast<Call*>(handle->data); }
  static void close_call_timer(Call* call) {
    call->impl = nullptr;
    auto* handle = reinterpret_cast<uv_handle_t*>(&call->timer);
    if (!uv_is_closing(handle)) uv_close(handle, &free_call);
  }

  void request(Request request, ResponseCallback callback);
  void close();

  void dispatch(Call* call);
  void start_fresh(Call* call);
  // A connection finished its answer and may carry another request.
  void release(Connection* connection);
  // A connection stopped counting against max_connections.
  void deactivate(Connection* connection);
  void pump();
  void complete(Call* call, ClientResult result);
  void on_deadline(Call* call);
  static void on_timer(uv_timer_t* timer);

  uv_loop_t* loop;
  Url origin;
  ClientOptions options;
  SocketAddress address;
  std::string host;
  bool closed = false;
  std::uint64_t next_sequence = 0;
  std::unordered_set<Call*> calls;  // not yet delivered
  std::deque<Call*> queue;          // waiting for a connection
  std::vector<Connection*> active;  // connecting, busy or idle
  std::vector<Connection*> idle;    // most recently used last
  std::unordered_set<Connection*> all;
};

// One TCP connection to the origin, carrying one request at a time. It
// frees itself when its stream has closed.
class Client::Connection final : public StreamHandler {
  using Call = Impl::Call;

 public:
  explicit Connection(Impl& impl)
      : impl_(&impl), stream_(impl.loop, *this), parser_(impl.options.limits) {}

  // A new connection for `call`.
  void start(Call* call) {
    attach(call);
    if (int status = stream_.connect(impl_->address); status != 0) {
      Call* failed = detach();
      shut();
      impl_->complete(failed, {false, std::string("connect: ") + uv_strerror(status), {}});
    }
  }

  // An idle connection takes `call`.
  void assign(Call* call) {
    reused_ = true;
    attach(call);
    state_ = State::Busy;
    stream_.write(call->wire);
  }

  // The call's deadline passed, or the client closes: no answer wanted.
  Call* abandon() {
    Call* call = detach();
    shut();
    return call;
  }

  void orphan() {
    impl_ = nullptr;
    detach();
    state_ = State::Closed;
    stream_.close();
  }

  void make_idle() { state_ = State::Idle; }

 private:
  enum class State { Connecting, Busy, Idle, Closed };

  void attach(Call* call) {
    call_ = call;
    call->connection = this;
    answer_started_ = false;
  }

  Call* detach() {
    Call* call = call_;
    call_ = nullptr;
    if (call) call->connection = nullptr;
    return call;
  }

  void shut() {
    if (state_ == State::Closed) return;
    state_ = State::Closed;
    if (impl_) impl_->deactivate(this);
    stream_.close();
  }

  void on_stream_connected(Stream&, int status) override {
    if (!impl_ || state_ != State::Connecting) return;
    if (status != 0) {
      Call* call = detach();
      shut();
      Impl* impl = impl_;
      if (call) impl->complete(call, {false, std::string("connect: ") + uv_strerror(status), {}});
      impl->pump();
      return;
    }
    state_ = State::Busy;
    stream_.start_reading();
    if (call_) stream_.write(call_->wire);
  }

  void on_stream_data(Stream&, std::string_view bytes) override {
    if (!impl_ || state_ == State::Closed) return;
    if (state_ != State::Busy || !call_) {
      // Nothing was asked: a server talking out of turn is not reused.
      shut();
      impl_->pump();
      return;
    }
    answer_started_ = true;
    while (true) {
      std::size_t consumed = 0;
      ParseStatus status = parser_.feed(bytes, consumed);
      bytes.remove_prefix(consumed);
      if (status == ParseStatus::NeedMore) return;
      if (status == ParseStatus::Error) {
        fail("bad response: " + parser_.error());
        return;
      }
      Response response = parser_.take();
      // Interim answers (100 Continue) precede the real one.
      if (response.status / 100 == 1 && response.status != 101) continue;
      answered(std::move(response), bytes.empty());
      return;
    }
  }

  void on_stream_end(Stream&, StreamEnd why) override {
    if (!impl_ || state_ == State::Closed) return;
    if (state_ != State::Busy || !call_) {
      shut();
      impl_->pump();
      return;
    }
    if (why == StreamEnd::PeerClosed && answer_started_) {
      ParseStatus status = parser_.finish();
      if (status == ParseStatus::Message) {
        answered(parser_.take(), false);
        return;
      }
      fail(status == ParseStatus::Error ? "bad response: " + parser_.error()
                                        : "connection closed before the response");
      return;
    }
    if (!answer_started_ && reused_ && call_->idempotent && !call_->retried) {
      // The server dropped a pooled connection as we reused it: the request
      // most likely never got a look, so a fresh connection gets it once
      // more. Only when sending it twice is harmless: the server may also
      // have acted on it and closed before answering.
      Call* call = detach();
      call->retried = true;
      shut();
      impl_->start_fresh(call);
      return;
    }
    fail(why == StreamEnd::PeerClosed    ? "connection closed before the response"
         : why == StreamEnd::WriteFailed ? "connection failed while sending the request"
                                         : "connection reset before the response");
  }

  void on_stream_closed(Stream&) override {
    if (impl_) impl_->all.erase(this);
    delete this;
  }

  void answered(Response response, bool nothing_extra) {
    Call* call = detach();
    const bool reusable = response.keep_alive && call->keep_alive && nothing_extra;
    Impl* impl = impl_;
    if (reusable) {
      impl->release(this);
    } else {
      shut();
    }
    impl->complete(call, {true, "", std::move(response)});
    impl->pump();
  }

  void fail(std::string error) {
    Call* call = detach();
    shut();
    Impl* impl = impl_;
    impl->complete(call, {false, std::move(error), {}});
    impl->pump();
  }

  Impl* impl_;
  Stream stream_;
  ResponseParser parser_;
  Call* call_ = nullptr;
  State state_ = State::Connecting;
  bool reused_ = false;
  bool answer_started_ = false;
};

Client::Impl::~Impl() {
  for (Call* call : calls) {
    uv_timer_stop(&call->timer);
    close_call_timer(call);
  }
  // Copied: orphan() does not touch `all`, but keep iteration independent.
  std::vector<Connection*> connections(all.begin(), all.end());
  for (Connection* connection : connections) connection->orphan();
}

void Client::Impl::request(Request request, ResponseCallback callback) {
  auto* call = new Call{
      this, next_sequence++, serialize(request, host), request.keep_alive, std::move(callback), {},
      {}};
  call->idempotent = is_idempotent(request.method);
  uv_timer_init(loop, &call->timer);
  call->timer.data = call;
  calls.insert(call);
  if (closed) {
    complete(call, {false, "closed", {}});
    return;
  }
  uv_timer_start(&call->timer, &Impl::on_timer, options.request_timeout_ms, 0);
  if (!queue.empty()) {
    call->queued = true;
    queue.push_back(call);
    return;
  }
  dispatch(call);
}

void Client::Impl::dispatch(Call* call) {
  if (!idle.empty()) {
    Connection* connection = idle.back();
    idle.pop_back();
    connection->assign(call);
  } else if (active.size() < options.max_connections) {
    start_fresh(call);
  } else {
    call->queued = true;
    queue.push_back(call);
  }
}

void Client::Impl::start_fresh(Call* call) {
  auto* connection = new Connection(*this);
  all.insert(connection);
  active.push_back(connection);
  connection->start(call);
}

void Client::Impl::release(Connection* connection) {
  if (!queue.empty()) {
    Call* call = queue.front();
    queue.pop_front();
    call->queued = false;
    connection->assign(call);
    return;
  }
  if (idle.size() >= options.max_idle_connections) {
    connection->abandon();
    return;
  }
  connection->make_idle();
  idle.push_back(connection);
}

void Client::Impl::deactivate(Connection* connection) {
  std::erase(active, connection);
  std::erase(idle, connection);
}

void Client::Impl::pump() {
  while (!queue.empty() && (!idle.empty() || active.size() < options.max_connections)) {
    Call* call = queue.front();
    queue.pop_front();
    call->queued = false;
    dispatch(call);
  }
}

void Client::Impl::complete(Call* call, ClientResult result) {
  call->phase = Call::Phase::Done;
  call->result = std::move(result);
  uv_timer_start(&call->timer, &Impl::on_timer, 0, 0);
}

void Client::Impl::on_deadline(Call* call) {
  if (call->queued) {
    std::erase(queue, call);
    call->queued = false;
  }
  if (call->connection) call->connection->abandon();
  complete(call, {false, "timeout", {}});
  pump();
}

void Client::Impl::on_timer(uv_timer_t* timer) {
  auto* call = static_cast<Call*>(timer->data);
  Impl* impl = call->impl;
  if (!impl) return;
  if (call->phase != Call::Phase::Done) {
    impl->on_deadline(call);
    return;
  }
  impl->calls.erase(call);
  ResponseCallback callback = std::move(call->callback);
  ClientResult result = std::move(call->result);
  close_call_timer(call);
  // Last: the callback may issue requests, close or destroy the client.
  callback(std::move(result));
}

void Client::Impl::close() {
  closed = true;
  std::vector<Call*> pending(calls.begin(), calls.end());
  std::sort(pending.begin(), pending.end(),
            [](const Call* a, const Call* b) { return a->sequence < b->sequence; });
  calls.clear();
  queue.clear();
  std::vector<ResponseCallback> callbacks;
  for (Call* call : pending) {
    if (call->connection) call->connection->abandon();
    uv_timer_stop(&call->timer);
    callbacks.push_back(std::move(call->callback));
    close_call_timer(call);
  }
  std::vector<Connection*> connections(active.begin(), active.end());
  for (Connection* connection : connections) connection->abandon();
  // Last, from the stack: a callback may destroy the client.
  for (ResponseCallback& callback : callbacks) {
    if (callback) callback({false, "closed", {}});
  }
}

Client::Client(uv_loop_t* loop, const Url& origin, ClientOptions options)
    : impl_(std::make_unique<Impl>(loop, origin, options)) {}

Client::~Client() = default;

void Client::request(Request request, ResponseCallback callback) {
  impl_->request(std::move(request), std::move(callback));
}

void Client::close() {
  impl_->close();
}

const Url& Client::origin() const {
  return impl_->origin;
}

std::size_t Client::open_connections() const {
  return impl_->active.size();
}

}  // namespace podgate::core::http
