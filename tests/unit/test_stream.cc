// Streams on a real libuv loop over loopback TCP: backpressure and TLS.
#include <sys/socket.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/stream.h"
#include "core/tls_context.h"
#include "tests/unit/certificates_fixture.h"

namespace core = podgate::core;
namespace test = podgate::test;

namespace {

// A handler whose reactions are set by each test.
struct ScriptedHandler : core::StreamHandler {
  std::function<void(core::Stream&, std::string_view)> data = [](auto&, auto) {};
  std::function<void(core::Stream&)> connected = [](auto&) {};
  std::function<void(core::Stream&)> tls_ready = [](auto&) {};
  std::function<void(core::Stream&)> drained = [](auto&) {};
  bool ended = false;
  bool closed = false;
  void on_stream_data(core::Stream& s, std::string_view b) override { data(s, b); }
  void on_stream_end(core::Stream&, core::StreamEnd) override { ended = true; }
  void on_stream_closed(core::Stream&) override { closed = true; }
  void on_stream_connected(core::Stream& s, int status) override {
    REQUIRE(status == 0);
    connected(s);
  }
  void on_stream_tls_ready(core::Stream& s) override { tls_ready(s); }
  void on_stream_drained(core::Stream& s) override { drained(s); }
};

// A loopback listener that accepts exactly one connection into `accepted`.
struct OneShotServer {
  uv_tcp_t tcp;
  std::function<void(uv_stream_t*)> on_accept;
  core::SocketAddress address;

  explicit OneShotServer(uv_loop_t* loop) {
    uv_tcp_init(loop, &tcp);
    tcp.data = this;
    address = *core::parse_socket_address("127.0.0.1:0");
    REQUIRE(uv_tcp_bind(&tcp, address.get(), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&tcp), 1, [](uv_stream_t* server, int) {
              static_cast<OneShotServer*>(server->data)->on_accept(server);
            }) == 0);
    int length = sizeof address.storage;
    uv_tcp_getsockname(&tcp, address.get(), &length);
  }
  void close() { uv_close(reinterpret_cast<uv_handle_t*>(&tcp), nullptr); }
};

}  // namespace

TEST_CASE("A stream reports congestion and drains without losing bytes", "[stream]") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  OneShotServer server(&loop);
  ScriptedHandler sender_events, receiver_events;
  core::Stream sender(&loop, sender_events);
  core::Stream receiver(&loop, receiver_events);

  constexpr std::size_t kTotal = 32 * 1024 * 1024;
  constexpr std::size_t kChunk = 64 * 1024;
  std::size_t sent = 0, received = 0, max_queued = 0;
  bool content_ok = true, saw_congestion = false;

  // Writes like a relay does: stop when the stream is congested, continue
  // when it says it drained.
  auto write_more = [&](core::Stream& stream) {
    while (sent < kTotal && !stream.congested()) {
      std::string chunk(kChunk, '\0');
      for (std::size_t i = 0; i < kChunk; ++i) chunk[i] = static_cast<char>((sent + i) % 251);
      stream.write(chunk);
      sent += kChunk;
      max_queued = std::max(max_queued, stream.queued_bytes());
    }
    if (stream.congested()) saw_congestion = true;
    if (sent == kTotal) stream.close_after_flush();
  };
  sender_events.drained = write_more;

  receiver_events.data = [&](core::Stream&, std::string_view bytes) {
    for (char c : bytes) {
      if (c != static_cast<char>(received % 251)) content_ok = false;
      ++received;
    }
  };

  server.on_accept = [&](uv_stream_t* listening) {
    REQUIRE(receiver.accept_from(listening) == 0);
    server.close();
  };
  sender_events.connected = [&](core::Stream& stream) {
    write_more(stream);
    // The peer reads nothing yet: the sender must be congested, not buffering 32 MB.
    CHECK(stream.congested());
    CHECK(sent < kTotal);
    receiver.start_reading();
  };
  REQUIRE(sender.connect(server.address) == 0);

  // Ends when the sender has flushed and closed and the receiver saw EOF.
  receiver_events.data = [&, inner = receiver_events.data](core::Stream& s, std::string_view b) {
    inner(s, b);
    if (received == kTotal) s.close();
  };
  uv_run(&loop, UV_RUN_DEFAULT);

  CHECK(saw_congestion);
  CHECK(received == kTotal);
  CHECK(content_ok);
  // Bounded by the high watermark plus one write that crossed it.
  CHECK(max_queued <= core::Stream::kHighWatermark + kChunk);
  CHECK(sender_events.closed);
  CHECK(receiver_events.closed);
  REQUIRE(uv_loop_close(&loop) == 0);
}

TEST_CASE("Streams speak TLS to each other, started after plaintext", "[stream][tls]") {
  const auto& files = test::test_certificate(test::KeyType::Ecdsa);
  auto server_context = core::make_server_context(files.certificate, files.private_key);
  auto client_context = core::make_client_context();

  uv_loop_t loop;
  uv_loop_init(&loop);
  OneShotServer server(&loop);
  ScriptedHandler client_events, server_events;
  core::Stream client(&loop, client_events);
  core::Stream accepted(&loop, server_events);
  std::string client_got, server_got;

  server.on_accept = [&](uv_stream_t* listening) {
    REQUIRE(accepted.accept_from(listening) == 0);
    server.close();
    accepted.write("* OK plaintext greeting\r\n");
    accepted.start_reading();
  };
  server_events.data = [&](core::Stream& stream, std::string_view bytes) {
    server_got.append(bytes);
    if (server_got == "a STARTTLS\r\n") {
      stream.write("a OK go\r\n");  // last plaintext, then TLS
      stream.start_tls_server(server_context.get());
      server_got.clear();
    } else if (server_got == "secret over tls\r\n") {
      stream.write("and back\r\n");
    }
  };
  client_events.connected = [&](core::Stream& stream) { stream.start_reading(); };
  client_events.data = [&](core::Stream& stream, std::string_view bytes) {
    client_got.append(bytes);
    if (client_got == "* OK plaintext greeting\r\n") {
      stream.write("a STARTTLS\r\n");
    } else if (client_got.ends_with("a OK go\r\n") && !stream.tls_active()) {
      REQUIRE(stream.start_tls_client(client_context.get(), "localhost"));
      client_got.clear();
    } else if (client_got == "and back\r\n") {
      stream.close();
      accepted.close();
    }
  };
  client_events.tls_ready = [&](core::Stream& stream) { stream.write("secret over tls\r\n"); };
  REQUIRE(client.connect(server.address) == 0);
  uv_run(&loop, UV_RUN_DEFAULT);

  CHECK(client_got == "and back\r\n");
  CHECK(accepted.tls_version() == "TLSv1.3");
  CHECK(accepted.bytes_read() == std::string("a STARTTLS\r\nsecret over tls\r\n").size());
  REQUIRE(uv_loop_close(&loop) == 0);
}

TEST_CASE("Writes held in a batch arrive whole and in order, also across STARTTLS and close",
          "[stream][tls]") {
  const auto& files = test::test_certificate(test::KeyType::Ecdsa);
  auto server_context = core::make_server_context(files.certificate, files.private_key);
  auto client_context = core::make_client_context();

  uv_loop_t loop;
  uv_loop_init(&loop);
  OneShotServer server(&loop);
  ScriptedHandler client_events, server_events;
  core::Stream client(&loop, client_events);
  core::Stream accepted(&loop, server_events);
  std::string client_got, server_got;
  std::vector<std::string> client_reads;

  server.on_accept = [&](uv_stream_t* listening) {
    REQUIRE(accepted.accept_from(listening) == 0);
    server.close();
    core::Stream::Batch batch(accepted);
    accepted.write("* OK ");
    accepted.write("greeting\r\n");
    accepted.start_reading();
  };
  server_events.data = [&](core::Stream& stream, std::string_view bytes) {
    server_got.append(bytes);
    if (server_got == "a STARTTLS\r\n") {
      core::Stream::Batch batch(stream);
      stream.write("a OK ");
      stream.write("go\r\n");  // held back, yet sent in plaintext before TLS starts
      stream.start_tls_server(server_context.get());
      server_got.clear();
    } else if (server_got == "bye\r\n") {
      core::Stream::Batch batch(stream);
      stream.write("last ");
      stream.write("words\r\n");
      stream.close_after_flush();  // sends what the batch holds first
    }
  };
  client_events.connected = [&](core::Stream& stream) { stream.start_reading(); };
  client_events.data = [&](core::Stream& stream, std::string_view bytes) {
    client_reads.emplace_back(bytes);
    client_got.append(bytes);
    if (client_got == "* OK greeting\r\n") {
      stream.write("a STARTTLS\r\n");
    } else if (client_got.ends_with("a OK go\r\n") && !stream.tls_active()) {
      REQUIRE(stream.start_tls_client(client_context.get(), "localhost"));
      client_got.clear();
    }
  };
  client_events.tls_ready = [&](core::Stream& stream) {
    core::Stream::Batch outer(stream);
    stream.write("b");
    {
      core::Stream::Batch inner(stream);
      stream.write("y");
    }
    stream.write("e\r\n");
  };
  REQUIRE(client.connect(server.address) == 0);
  uv_run(&loop, UV_RUN_DEFAULT);

  CHECK(client_got == "last words\r\n");
  // each answer written in pieces within a batch left as one send
  REQUIRE(client_reads.size() >= 2);
  CHECK(client_reads.front() == "* OK greeting\r\n");
  CHECK(client_reads.back() == "last words\r\n");
  CHECK(client_events.ended);
  client.close();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(accepted.tls_version() == "TLSv1.3");
  CHECK(accepted.bytes_written() ==
        std::string("* OK greeting\r\na OK go\r\nlast words\r\n").size());
  REQUIRE(uv_loop_close(&loop) == 0);
}

TEST_CASE("A peer that half-closes and then resets is heard of twice", "[stream]") {
  // A client that sends its FIN and goes (RST) while podgate still has bytes
  // for it: the write failure must reach the owner after the orderly end,
  // or a relay would wait for those bytes until its idle timeout.
  std::signal(SIGPIPE, SIG_IGN);  // as podgate does: the failure is an error code
  uv_loop_t loop;
  uv_loop_init(&loop);
  OneShotServer server(&loop);

  struct RecordingHandler : core::StreamHandler {
    std::vector<core::StreamEnd> ends;
    std::function<void(core::Stream&, core::StreamEnd)> on_end;
    void on_stream_data(core::Stream&, std::string_view) override {}
    void on_stream_end(core::Stream& s, core::StreamEnd why) override {
      ends.push_back(why);
      on_end(s, why);
    }
    void on_stream_closed(core::Stream&) override {}
  } events;
  core::Stream proxy_side(&loop, events);

  int peer = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(peer >= 0);
  REQUIRE(::connect(peer, server.address.get(), sizeof(sockaddr_in)) == 0);
  REQUIRE(::shutdown(peer, SHUT_WR) == 0);

  uv_timer_t reset_timer, give_up_timer;
  uv_timer_init(&loop, &reset_timer);
  uv_timer_init(&loop, &give_up_timer);
  reset_timer.data = &peer;
  std::function<void()> close_everything = [&] {
    proxy_side.close();
    uv_close(reinterpret_cast<uv_handle_t*>(&reset_timer), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&give_up_timer), nullptr);
  };
  events.on_end = [&](core::Stream& stream, core::StreamEnd why) {
    if (why == core::StreamEnd::PeerClosed) {
      // Far more than the socket buffers hold, so some stays queued.
      for (int i = 0; i < 128; ++i) stream.write(std::string(64 * 1024, 'x'));
      CHECK(stream.queued_bytes() > 0);
      uv_timer_start(
          &reset_timer,
          [](uv_timer_t* timer) {
            int fd = *static_cast<int*>(timer->data);
            linger abort_on_close{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
            ::close(fd);
          },
          50, 0);
    } else {
      close_everything();
    }
  };
  server.on_accept = [&](uv_stream_t* listening) {
    REQUIRE(proxy_side.accept_from(listening) == 0);
    server.close();
    proxy_side.start_reading();
  };
  give_up_timer.data = &close_everything;
  uv_timer_start(
      &give_up_timer,
      [](uv_timer_t* timer) { (*static_cast<std::function<void()>*>(timer->data))(); }, 5000, 0);
  uv_run(&loop, UV_RUN_DEFAULT);

  CHECK(events.ends ==
        std::vector<core::StreamEnd>{core::StreamEnd::PeerClosed, core::StreamEnd::WriteFailed});
  REQUIRE(uv_loop_close(&loop) == 0);
}
