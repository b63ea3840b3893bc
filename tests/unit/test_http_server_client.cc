// The HTTP server and client together on a real loop over loopback, plus a
// few raw TCP peers: one that never answers, one that drops connections on
// cue, one that speaks bytes the server must refuse.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.h"
#include "core/http/http_client.h"
#include "core/http/http_server.h"
#include "core/stream.h"

namespace core = podgate::core;
namespace http = podgate::core::http;

namespace {

// A loop that tests run until a condition holds (or fail after a limit), and
// that must end with every handle closed.
class TestLoop {
 public:
  TestLoop() {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &tick_);
    uv_timer_init(&loop_, &watchdog_);
  }
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;
  ~TestLoop() {
    if (!finished_) finish();
  }

  uv_loop_t* get() { return &loop_; }

  bool run_until(const std::function<bool()>& done, std::uint64_t limit_ms = 5000) {
    uv_update_time(&loop_);
    const std::uint64_t deadline = uv_now(&loop_) + limit_ms;
    // The tick makes each UV_RUN_ONCE return soon, so `done` is re-checked.
    uv_timer_start(
        &tick_, [](uv_timer_t*) {}, 5, 5);
    while (!done() && uv_now(&loop_) < deadline) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&tick_);
    return done();
  }

  void run_for(std::uint64_t ms) {
    uv_update_time(&loop_);
    const std::uint64_t until = uv_now(&loop_) + ms;
    run_until([&] { return uv_now(&loop_) >= until; }, ms + 1000);
  }

  // Everything the test made must be closed (or closing) by now: the loop
  // has to end by itself.
  void finish() {
    finished_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    watchdog_.data = this;
    uv_timer_start(
        &watchdog_,
        [](uv_timer_t* timer) {
          static_cast<TestLoop*>(timer->data)->hung_ = true;
          uv_stop(timer->loop);
        },
        5000, 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(&watchdog_));
    uv_run(&loop_, UV_RUN_DEFAULT);
    CHECK_FALSE(hung_);
    uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_), nullptr);
    if (hung_) return;  // leaked handles: the loop cannot be closed
    uv_run(&loop_, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop_) == 0);
  }

 private:
  uv_loop_t loop_;
  uv_timer_t tick_;
  uv_timer_t watchdog_;
  bool finished_ = false;
  bool hung_ = false;
};

core::SocketAddress loopback_any_port() {
  return *core::parse_socket_address("127.0.0.1:0");
}

std::string origin_of(const core::SocketAddress& address) {
  return "http://" + address.text();
}

// A listener that completes handshakes (the kernel does) but never accepts,
// reads or answers.
class MuteListener {
 public:
  explicit MuteListener(uv_loop_t* loop) : tcp_(new uv_tcp_t) {
    uv_tcp_init(loop, tcp_);
    core::SocketAddress any = loopback_any_port();
    REQUIRE(uv_tcp_bind(tcp_, any.get(), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(tcp_), 16, [](uv_stream_t*, int) {}) == 0);
    int length = sizeof address_.storage;
    uv_tcp_getsockname(tcp_, address_.get(), &length);
  }
  ~MuteListener() { close(); }
  void close() {
    if (!tcp_) return;
    uv_close(reinterpret_cast<uv_handle_t*>(tcp_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_tcp_t*>(handle); });
    tcp_ = nullptr;
  }
  const core::SocketAddress& address() const { return address_; }

 private:
  uv_tcp_t* tcp_;
  core::SocketAddress address_;
};

// Answers every request with "answer <connection number>" and can drop all
// its connections at once, as a server whose keep-alive timeout passed.
class DroppingServer : public core::StreamHandler {
 public:
  explicit DroppingServer(uv_loop_t* loop) : loop_(loop), tcp_(new uv_tcp_t) {
    uv_tcp_init(loop, tcp_);
    tcp_->data = this;
    core::SocketAddress any = loopback_any_port();
    REQUIRE(uv_tcp_bind(tcp_, any.get(), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(tcp_), 16, [](uv_stream_t* server, int) {
              static_cast<DroppingServer*>(server->data)->accept(server);
            }) == 0);
    int length = sizeof address_.storage;
    uv_tcp_getsockname(tcp_, address_.get(), &length);
  }
  ~DroppingServer() override { close(); }

  void drop_connections() {
    for (auto& peer : peers_) peer->stream.close();
  }
  void close() {
    drop_connections();
    if (!tcp_) return;
    uv_close(reinterpret_cast<uv_handle_t*>(tcp_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_tcp_t*>(handle); });
    tcp_ = nullptr;
  }
  const core::SocketAddress& address() const { return address_; }
  int accepted() const { return accepted_; }
  std::size_t open() const { return peers_.size(); }

 private:
  struct Peer {
    Peer(uv_loop_t* loop, core::StreamHandler& handler, int number_)
        : stream(loop, handler), number(number_) {}
    core::Stream stream;
    http::RequestParser parser;
    int number;
  };

  void accept(uv_stream_t* server) {
    auto peer = std::make_unique<Peer>(loop_, *this, ++accepted_);
    REQUIRE(peer->stream.accept_from(server) == 0);
    peer->stream.start_reading();
    peers_.push_back(std::move(peer));
  }
  Peer* find(core::Stream& stream) {
    for (auto& peer : peers_) {
      if (&peer->stream == &stream) return peer.get();
    }
    return nullptr;
  }
  void on_stream_data(core::Stream& stream, std::string_view bytes) override {
    Peer* found = find(stream);
    REQUIRE(found);
    Peer& peer = *found;
    for (;;) {
      std::size_t consumed = 0;
      http::ParseStatus status = peer.parser.feed(bytes, consumed);
      bytes.remove_prefix(consumed);
      if (status != http::ParseStatus::Message) return;
      peer.parser.take();
      stream.write(
          http::serialize(http::Response::text(200, "answer " + std::to_string(peer.number))));
    }
  }
  void on_stream_end(core::Stream& stream, core::StreamEnd) override { stream.close(); }
  void on_stream_closed(core::Stream& stream) override {
    std::erase_if(peers_, [&](const auto& peer) { return &peer->stream == &stream; });
  }

  uv_loop_t* loop_;
  uv_tcp_t* tcp_;
  core::SocketAddress address_;
  int accepted_ = 0;
  std::vector<std::unique_ptr<Peer>> peers_;
};

// Connects, sends bytes, collects whatever comes back until the server closes.
class RawClient : public core::StreamHandler {
 public:
  RawClient(uv_loop_t* loop, const core::SocketAddress& address, std::string send)
      : stream_(loop, *this), send_(std::move(send)) {
    REQUIRE(stream_.connect(address) == 0);
  }
  void on_stream_connected(core::Stream& stream, int status) override {
    REQUIRE(status == 0);
    connected = true;
    stream.start_reading();
    stream.write(send_);
  }
  void on_stream_data(core::Stream&, std::string_view bytes) override { received.append(bytes); }
  void on_stream_end(core::Stream& stream, core::StreamEnd) override {
    ended = true;
    stream.close();
  }
  void on_stream_closed(core::Stream&) override { closed = true; }
  void write(std::string_view bytes) { stream_.write(bytes); }
  void close() { stream_.close(); }

  bool connected = false;
  bool ended = false;
  bool closed = false;
  std::string received;

 private:
  core::Stream stream_;
  std::string send_;
};

std::vector<http::Response> parse_responses(std::string_view bytes) {
  std::vector<http::Response> responses;
  http::ResponseParser parser;
  for (;;) {
    std::size_t consumed = 0;
    http::ParseStatus status = parser.feed(bytes, consumed);
    bytes.remove_prefix(consumed);
    if (status != http::ParseStatus::Message) break;
    responses.push_back(parser.take());
  }
  if (parser.finish() == http::ParseStatus::Message) responses.push_back(parser.take());
  return responses;
}

// Echoes what it saw, so tests can check what arrived.
http::Response echo(const http::Request& request) {
  std::string body = request.method + " " + request.path();
  for (const auto& [key, value] : request.query()) body += " " + key + "=" + value;
  if (!request.body.empty()) body += " body=" + request.body;
  auto response = http::Response::json(200, body);
  response.headers.emplace_back("X-Path", request.path());
  return response;
}

http::Request get(std::string target) {
  http::Request request;
  request.method = "GET";
  request.target = std::move(target);
  return request;
}

struct Started {
  explicit Started(uv_loop_t* loop, http::ServerOptions options = {}, http::Handler handler = echo)
      : server(loop, std::move(handler), options) {
    REQUIRE(server.listen(loopback_any_port()) == "");
    address = server.local_address();
    REQUIRE(address.port() != 0);
  }
  http::Server server;
  core::SocketAddress address;
};

}  // namespace

TEST_CASE("HTTP client and server complete a GET round trip", "[http][server][client]") {
  TestLoop loop;
  Started started(loop.get());
  http::Client client(loop.get(), http::parse_url(origin_of(started.address)));
  CHECK(client.origin().port == started.address.port());

  std::optional<http::ClientResult> result;
  client.request(get("/v1/lookup?user=a%40b&protocol=imap"),
                 [&](http::ClientResult r) { result = std::move(r); });
  CHECK_FALSE(result);  // never from inside request()
  REQUIRE(loop.run_until([&] { return result.has_value(); }));
  CHECK(result->ok);
  CHECK(result->error.empty());
  CHECK(result->response.status == 200);
  CHECK(result->response.body == "GET /v1/lookup protocol=imap user=a@b");
  CHECK(result->response.header("content-type") == "application/json");
  CHECK(result->response.header("X-Path") == "/v1/lookup");
  CHECK(result->response.keep_alive);

  client.close();
  started.server.close();
  loop.finish();
}

TEST_CASE("HTTP client reuses one keep-alive connection for sequential requests",
          "[http][server][client]") {
  TestLoop loop;
  Started started(loop.get());
  http::Client client(loop.get(), http::parse_url(origin_of(started.address)));

  std::vector<std::string> bodies;
  client.request(get("/first"), [&](http::ClientResult r) {
    REQUIRE(r.ok);
    bodies.push_back(r.response.body);
    client.request(get("/second"), [&](http::ClientResult r2) {
      REQUIRE(r2.ok);
      bodies.push_back(r2.response.body);
    });
  });
  REQUIRE(loop.run_until([&] { return bodies.size() == 2; }));
  CHECK(bodies == std::vector<std::string>{"GET /first", "GET /second"});
  CHECK(client.open_connections() == 1);
  CHECK(started.server.connection_count() == 1);

  // And once more after a pause: still the same connection.
  loop.run_for(20);
  bool third = false;
  client.request(get("/third"), [&](http::ClientResult r) { third = r.ok; });
  REQUIRE(loop.run_until([&] { return third; }));
  CHECK(client.open_connections() == 1);
  CHECK(started.server.connection_count() == 1);

  client.close();
  started.server.close();
  loop.finish();
}

TEST_CASE("HTTP client queues requests beyond max_connections in order", "[http][server][client]") {
  TestLoop loop;
  std::size_t most_connections = 0;
  http::Server* server_pointer = nullptr;
  Started started(loop.get(), {}, [&](const http::Request& request) {
    most_connections = std::max(most_connections, server_pointer->connection_count());
    return echo(request);
  });
  server_pointer = &started.server;
  http::ClientOptions options;
  options.max_connections = 1;
  http::Client client(loop.get(), http::parse_url(origin_of(started.address)), options);

  std::vector<std::string> order;
  for (const char* path : {"/1", "/2", "/3"}) {
    client.request(get(path), [&](http::ClientResult r) {
      CHECK(r.ok);
      order.push_back(r.response.body);
    });
  }
  CHECK(client.open_connections() == 1);
  REQUIRE(loop.run_until([&] { return order.size() == 3; }));
  CHECK(order == std::vector<std::string>{"GET /1", "GET /2", "GET /3"});
  CHECK(most_connections == 1);
  CHECK(client.open_connections() == 1);

  client.close();
  started.server.close();
  loop.finish();
}

TEST_CASE("HTTP client times out against a listener that never answers",
          "[http][client][timeout]") {
  TestLoop loop;
  MuteListener mute(loop.get());
  http::ClientOptions options;
  options.request_timeout_ms = 100;
  options.max_connections = 1;
  http::Client client(loop.get(), http::parse_url(origin_of(mute.address())), options);

  std::vector<std::string> errors;
  uv_update_time(loop.get());
  const std::uint64_t start = uv_now(loop.get());
  std::uint64_t first_done = 0;
  // The second waits in the queue behind the first: its deadline runs too.
  for (int i = 0; i < 2; ++i) {
    client.request(get("/never"), [&](http::ClientResult r) {
      CHECK_FALSE(r.ok);
      if (errors.empty()) first_done = uv_now(loop.get());
      errors.push_back(r.error);
    });
  }
  REQUIRE(loop.run_until([&] { return errors.size() == 2; }));
  CHECK(errors == std::vector<std::string>{"timeout", "timeout"});
  CHECK(first_done - start >= 95);
  CHECK(first_done - start < 1000);
  CHECK(client.open_connections() == 0);

  client.close();
  mute.close();
  loop.finish();
}

TEST_CASE("HTTP client reports connection refused", "[http][client]") {
  TestLoop loop;
  // A port that was just free: bind, read it, close.
  core::SocketAddress unused;
  {
    MuteListener probe(loop.get());
    unused = probe.address();
  }
  loop.run_for(1);
  http::Client client(loop.get(), http::parse_url(origin_of(unused)));
  std::optional<http::ClientResult> result;
  client.request(get("/"), [&](http::ClientResult r) { result = std::move(r); });
  REQUIRE(loop.run_until([&] { return result.has_value(); }));
  CHECK_FALSE(result->ok);
  CHECK(result->error == "connect: connection refused");
  CHECK(client.open_connections() == 0);

  client.close();
  loop.finish();
}

TEST_CASE("HTTP client notices a server closing an idle keep-alive connection",
          "[http][server][client]") {
  TestLoop loop;
  http::ServerOptions server_options;
  server_options.idle_timeout_ms = 50;
  Started started(loop.get(), server_options);
  http::Client client(loop.get(), http::parse_url(origin_of(started.address)));

  bool first = false;
  client.request(get("/first"), [&](http::ClientResult r) { first = r.ok; });
  REQUIRE(loop.run_until([&] { return first; }));
  CHECK(client.open_connections() == 1);
  // The server's idle timeout closes it; the client drops it from its pool.
  REQUIRE(loop.run_until(
      [&] { return started.server.connection_count() == 0 && client.open_connections() == 0; }));

  std::optional<http::ClientResult> second;
  client.request(get("/second"), [&](http::ClientResult r) { second = std::move(r); });
  REQUIRE(loop.run_until([&] { return second.has_value(); }));
  CHECK(second->ok);
  CHECK(second->response.body == "GET /second");

  client.close();
  started.server.close();
  loop.finish();
}

TEST_CASE("HTTP client retries once when a reused connection was already dropped",
          "[http][client]") {
  TestLoop loop;
  DroppingServer server(loop.get());
  http::Client client(loop.get(), http::parse_url(origin_of(server.address())));

  std::optional<http::ClientResult> second;
  bool first = false;
  client.request(get("/first"), [&](http::ClientResult r) {
    REQUIRE(r.ok);
    CHECK(r.response.body == "answer 1");
    first = true;
    // The server drops the pooled connection, and the client reuses it
    // before it could have read the end: the request gets no answer there.
    server.drop_connections();
    client.request(get("/second"), [&](http::ClientResult r2) { second = std::move(r2); });
  });
  REQUIRE(loop.run_until([&] { return second.has_value(); }));
  CHECK(first);
  CHECK(second->ok);
  CHECK(second->error == "");
  CHECK(second->response.body == "answer 2");
  CHECK(server.accepted() == 2);

  client.close();
  server.close();
  loop.finish();
}

TEST_CASE("HTTP client does not resend a POST when a reused connection was dropped",
          "[http][client]") {
  TestLoop loop;
  DroppingServer server(loop.get());
  http::Client client(loop.get(), http::parse_url(origin_of(server.address())));

  std::optional<http::ClientResult> second;
  client.request(get("/first"), [&](http::ClientResult r) {
    REQUIRE(r.ok);
    server.drop_connections();
    http::Request post;
    post.method = "POST";
    post.target = "/second";
    post.body = "charge once";
    client.request(post, [&](http::ClientResult r2) { second = std::move(r2); });
  });
  REQUIRE(loop.run_until([&] { return second.has_value(); }));
  // The server may have acted on it before closing: not sent again.
  CHECK_FALSE(second->ok);
  CHECK_THAT(second->error, Catch::StartsWith("connection"));
  loop.run_for(20);
  CHECK(server.accepted() == 1);

  client.close();
  server.close();
  loop.finish();
}

TEST_CASE("HTTP client and server round-trip a PUT with a JSON body", "[http][server][client]") {
  TestLoop loop;
  std::optional<http::Request> seen;
  Started started(loop.get(), {}, [&](const http::Request& request) {
    seen = request;
    return http::Response::json(201, request.body);
  });
  http::Client client(loop.get(), http::parse_url(origin_of(started.address)));

  http::Request put;
  put.method = "PUT";
  put.target = "/v1/users/alice%40example.com";
  put.headers = {{"Content-Type", "application/json"}};
  put.body = R"({"pod":"pod-2","pop3":false})";
  std::optional<http::ClientResult> result;
  client.request(put, [&](http::ClientResult r) { result = std::move(r); });
  REQUIRE(loop.run_until([&] { return result.has_value(); }));
  REQUIRE(result->ok);
  CHECK(result->response.status == 201);
  CHECK(result->response.body == put.body);
  REQUIRE(seen);
  CHECK(seen->method == "PUT");
  CHECK(seen->path() == "/v1/users/alice@example.com");
  CHECK(seen->header("content-type") == "application/json");
  CHECK(seen->header("Host") == started.address.text());
  CHECK(seen->body == put.body);

  client.close();
  started.server.close();
  loop.finish();
}

TEST_CASE("HTTP server answers a bad request with 400 and closes", "[http][server]") {
  TestLoop loop;
  Started started(loop.get());
  RawClient raw(loop.get(), started.address, "GARBAGE / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
  REQUIRE(loop.run_until([&] { return raw.closed; }));
  auto responses = parse_responses(raw.received);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 400);
  CHECK_FALSE(responses[0].keep_alive);
  CHECK_THAT(responses[0].body, Catch::StartsWith("Bad Request"));
  CHECK(raw.received.find("Connection: close\r\n") != std::string::npos);

  started.server.close();
  loop.finish();
}

TEST_CASE("HTTP server answers over-limit requests with 431 and 413", "[http][server]") {
  TestLoop loop;
  http::ServerOptions options;
  options.limits.max_header_bytes = 256;
  options.limits.max_body_bytes = 16;
  Started started(loop.get(), options);
  RawClient headers(loop.get(), started.address,
                    "GET / HTTP/1.1\r\nX-Big: " + std::string(300, 'a') + "\r\n\r\n");
  RawClient body(loop.get(), started.address,
                 "PUT / HTTP/1.1\r\nContent-Length: 17\r\n\r\n01234567890123456");
  REQUIRE(loop.run_until([&] { return headers.closed && body.closed; }));
  auto header_answer = parse_responses(headers.received);
  REQUIRE(header_answer.size() == 1);
  CHECK(header_answer[0].status == 431);
  auto body_answer = parse_responses(body.received);
  REQUIRE(body_answer.size() == 1);
  CHECK(body_answer[0].status == 413);

  started.server.close();
  loop.finish();
}

TEST_CASE("HTTP server answers pipelined requests in order", "[http][server]") {
  TestLoop loop;
  Started started(loop.get());
  RawClient raw(loop.get(), started.address,
                "GET /a HTTP/1.1\r\n\r\n"
                "PUT /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
                "HEAD /c HTTP/1.1\r\n\r\n"
                "GET /d HTTP/1.1\r\nConnection: close\r\n\r\n");
  REQUIRE(loop.run_until([&] { return raw.closed; }));
  // HEAD: the answer announces a length but carries no body.
  const std::string head_answer =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
      "X-Path: /c\r\nContent-Length: 7\r\n\r\nHTTP/1.1";
  CHECK(raw.received.find(head_answer) != std::string::npos);
  CHECK(raw.received.find("GET /a") < raw.received.find("PUT /b body=hi"));
  CHECK(raw.received.find("PUT /b body=hi") < raw.received.find("GET /d"));
  CHECK(raw.received.ends_with("Connection: close\r\n\r\nGET /d"));

  started.server.close();
  loop.finish();
}

TEST_CASE("HTTP server answers 500 when the handler throws", "[http][server]") {
  TestLoop loop;
  Started started(loop.get(), {}, [](const http::Request& request) -> http::Response {
    if (request.path() == "/throw") throw std::runtime_error("secret detail");
    return http::Response::text(200, "fine");
  });
  http::Client client(loop.get(), http::parse_url(origin_of(started.address)));
  std::vector<http::ClientResult> results;
  client.request(get("/throw"), [&](http::ClientResult r) { results.push_back(std::move(r)); });
  client.request(get("/fine"), [&](http::ClientResult r) { results.push_back(std::move(r)); });
  REQUIRE(loop.run_until([&] { return results.size() == 2; }));
  REQUIRE(results[0].ok);
  CHECK(results[0].response.status == 500);
  CHECK(results[0].response.body.find("secret") == std::string::npos);
  REQUIRE(results[1].ok);
  CHECK(results[1].response.body == "fine");

  client.close();
  started.server.close();
  loop.finish();
}

TEST_CASE("HTTP server closes idle connections and those above max_connections", "[http][server]") {
  TestLoop loop;
  {
    // A long idle timeout, so that a stalled machine cannot close the first
    // connection before it is checked.
    http::ServerOptions options;
    options.idle_timeout_ms = 2000;
    options.max_connections = 1;
    Started started(loop.get(), options);

    RawClient first(loop.get(), started.address, "");
    REQUIRE(loop.run_until([&] { return started.server.connection_count() == 1; }));
    // Over the limit: accepted and closed at once, without an answer.
    RawClient second(loop.get(), started.address, "GET / HTTP/1.1\r\n\r\n");
    REQUIRE(loop.run_until([&] { return second.closed; }, 1000));
    CHECK(second.received.empty());
    CHECK_FALSE(first.closed);
    CHECK(started.server.connection_count() == 1);
    started.server.close();
    REQUIRE(loop.run_until([&] { return first.closed; }));
  }
  {
    // A short one: a connection that says nothing is closed by it.
    http::ServerOptions options;
    options.idle_timeout_ms = 50;
    Started started(loop.get(), options);
    RawClient silent(loop.get(), started.address, "");
    REQUIRE(loop.run_until([&] { return silent.connected; }));
    REQUIRE(loop.run_until([&] { return silent.closed; }));
    CHECK(silent.received.empty());
    REQUIRE(loop.run_until([&] { return started.server.connection_count() == 0; }));
    started.server.close();
  }
  loop.finish();
}

TEST_CASE("HTTP server answers 408 to a request that arrives too slowly",
          "[http][server][timeout]") {
  TestLoop loop;
  http::ServerOptions options;
  options.request_timeout_ms = 200;
  options.idle_timeout_ms = 5000;
  Started started(loop.get(), options);

  // Between requests only the idle timeout runs: a pause longer than the
  // request timeout keeps the connection.
  RawClient patient(loop.get(), started.address, "GET /one HTTP/1.1\r\n\r\n");
  REQUIRE(loop.run_until([&] { return parse_responses(patient.received).size() == 1; }));
  loop.run_for(400);
  CHECK_FALSE(patient.closed);
  patient.write("GET /two HTTP/1.1\r\n\r\n");
  REQUIRE(loop.run_until([&] { return parse_responses(patient.received).size() == 2; }));
  CHECK(parse_responses(patient.received)[1].body == "GET /two");
  patient.close();

  // One byte every 20 ms: each arrives well within the idle timeout, but
  // the whole request would take about a second.
  RawClient slow(loop.get(), started.address, "");
  REQUIRE(loop.run_until([&] { return slow.connected; }));
  const std::string request =
      "GET /slow HTTP/1.1\r\nHost: example\r\nX-Pad: " + std::string(20, 'a') + "\r\n\r\n";
  std::size_t sent = 0;
  uv_update_time(loop.get());
  const std::uint64_t start = uv_now(loop.get());
  while (!slow.closed && sent < request.size()) {
    slow.write(request.substr(sent++, 1));
    loop.run_until([&] { return slow.closed; }, 20);
  }
  REQUIRE(loop.run_until([&] { return slow.closed; }));
  CHECK(sent < request.size());
  CHECK(uv_now(loop.get()) - start >= 190);
  auto responses = parse_responses(slow.received);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 408);
  CHECK_FALSE(responses[0].keep_alive);
  REQUIRE(loop.run_until([&] { return started.server.connection_count() == 0; }));

  started.server.close();
  loop.finish();
}

TEST_CASE("HTTP server answers Expect: 100-continue before the body arrives", "[http][server]") {
  TestLoop loop;
  http::ServerOptions options;
  options.limits.max_body_bytes = 4096;
  Started started(loop.get(), options);
  const std::string body(2000, 'x');

  RawClient put(loop.get(), started.address,
                "PUT /big HTTP/1.1\r\nHost: example\r\nContent-Length: 2000\r\n"
                "Expect: 100-Continue\r\n\r\n");
  REQUIRE(loop.run_until([&] { return !put.received.empty(); }));
  CHECK(put.received == "HTTP/1.1 100 Continue\r\n\r\n");
  put.write(body);
  REQUIRE(loop.run_until([&] { return parse_responses(put.received).size() == 2; }));
  auto responses = parse_responses(put.received);
  CHECK(responses[0].status == 100);
  CHECK(responses[1].status == 200);
  CHECK(responses[1].body == "PUT /big body=" + body);
  CHECK(responses[1].keep_alive);

  // The next request on the connection gets no stray 100.
  const std::size_t before = put.received.size();
  put.write("GET /after HTTP/1.1\r\nConnection: close\r\n\r\n");
  REQUIRE(loop.run_until([&] { return put.closed; }));
  auto after = parse_responses(std::string_view(put.received).substr(before));
  REQUIRE(after.size() == 1);
  CHECK(after[0].body == "GET /after");

  // A body over the limit is refused at once, without a 100.
  RawClient big(loop.get(), started.address,
                "PUT /big HTTP/1.1\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
  REQUIRE(loop.run_until([&] { return big.closed; }));
  auto refused = parse_responses(big.received);
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].status == 413);

  started.server.close();
  loop.finish();
}

TEST_CASE("HTTP client close fails pending requests synchronously", "[http][client]") {
  TestLoop loop;
  MuteListener mute(loop.get());
  http::Client client(loop.get(), http::parse_url(origin_of(mute.address())));
  std::vector<std::string> errors;
  client.request(get("/a"), [&](http::ClientResult r) { errors.push_back("a " + r.error); });
  client.request(get("/b"), [&](http::ClientResult r) { errors.push_back("b " + r.error); });
  loop.run_for(10);
  CHECK(errors.empty());
  client.close();
  CHECK(errors == std::vector<std::string>{"a closed", "b closed"});
  CHECK(client.open_connections() == 0);

  // After close: still "closed", but from the loop.
  bool late = false;
  client.request(get("/c"), [&](http::ClientResult r) {
    CHECK(r.error == "closed");
    late = true;
  });
  CHECK_FALSE(late);
  REQUIRE(loop.run_until([&] { return late; }));

  mute.close();
  loop.finish();
}

TEST_CASE("HTTP client destroyed with requests pending calls nothing", "[http][client]") {
  TestLoop loop;
  MuteListener mute(loop.get());
  bool called = false;
  {
    http::Client client(loop.get(), http::parse_url(origin_of(mute.address())));
    client.request(get("/a"), [&](http::ClientResult) { called = true; });
    loop.run_for(10);
  }
  loop.run_for(20);
  CHECK_FALSE(called);
  mute.close();
  loop.finish();
}

TEST_CASE("HTTP server close ends every connection and the loop", "[http][server]") {
  TestLoop loop;
  auto started = std::make_unique<Started>(loop.get());
  RawClient idle(loop.get(), started->address, "GET /x HTTP/1.1\r\n\r\n");
  REQUIRE(loop.run_until([&] { return !idle.received.empty(); }));
  CHECK(started->server.connection_count() == 1);
  started->server.close();
  started->server.close();  // idempotent
  REQUIRE(loop.run_until([&] { return idle.closed; }));
  started.reset();
  loop.finish();
}
