#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "backend-directory/pod_health.h"
#include "core/stream.h"
#include "core/tls_context.h"
#include "tests/unit/certificates_fixture.h"

using nlohmann::json;
using podgate::directory::Directory;
using podgate::directory::judge_greeting;
using podgate::directory::PodHealth;
using podgate::directory::Protocol;

namespace {

// Listens on 127.0.0.1:port (0: any free port) with `data` on the handle;
// returns the port.
int listen_on_loopback(uv_loop_t* loop, uv_tcp_t& listener, void* data, int port,
                       uv_connection_cb on_connection) {
  uv_tcp_init(loop, &listener);
  listener.data = data;
  sockaddr_in address{};
  uv_ip4_addr("127.0.0.1", port, &address);
  REQUIRE(uv_tcp_bind(&listener, reinterpret_cast<const sockaddr*>(&address), 0) == 0);
  REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&listener), 16, on_connection) == 0);
  sockaddr_storage bound{};
  int length = sizeof bound;
  uv_tcp_getsockname(&listener, reinterpret_cast<sockaddr*>(&bound), &length);
  return ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

// A pod server on the test's loop: greets every connection, then hangs up.
class GreetingServer {
 public:
  GreetingServer(uv_loop_t* loop, std::string greeting, int port = 0)
      : greeting_(std::move(greeting)) {
    port_ = listen_on_loopback(loop, listener_, this, port, on_connection);
  }
  void close() {
    if (!closed_) uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    closed_ = true;
  }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  struct Client {
    uv_tcp_t tcp;
    uv_write_t write;
  };
  static void on_connection(uv_stream_t* listener, int status) {
    if (status < 0) return;
    auto* self = static_cast<GreetingServer*>(listener->data);
    auto* client = new Client;
    uv_tcp_init(listener->loop, &client->tcp);
    client->tcp.data = client;
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&client->tcp)) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&client->tcp), on_closed);
      return;
    }
    uv_buf_t buf = uv_buf_init(self->greeting_.data(), self->greeting_.size());
    client->write.data = client;
    uv_write(&client->write, reinterpret_cast<uv_stream_t*>(&client->tcp), &buf, 1,
             [](uv_write_t* request, int) {
               auto* client = static_cast<Client*>(request->data);
               uv_close(reinterpret_cast<uv_handle_t*>(&client->tcp), on_closed);
             });
  }
  static void on_closed(uv_handle_t* handle) { delete static_cast<Client*>(handle->data); }

  uv_tcp_t listener_;
  std::string greeting_;
  int port_ = 0;
  bool closed_ = false;
};

// A pod server with implicit TLS (993/995 style): greets only inside TLS.
class TlsGreetingServer final : public podgate::core::StreamHandler {
 public:
  TlsGreetingServer(uv_loop_t* loop, std::string greeting)
      : loop_(loop), greeting_(std::move(greeting)) {
    const auto& files = podgate::test::test_certificate(podgate::test::KeyType::Ecdsa);
    context_ = podgate::core::make_server_context(files.certificate, files.private_key);
    port_ = listen_on_loopback(loop, listener_, this, 0, on_connection);
  }
  void close() {
    if (!closed_) uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    closed_ = true;
    for (auto& client : clients_) client->close();
  }
  bool idle() const { return clients_.empty(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  static void on_connection(uv_stream_t* listener, int status) {
    if (status < 0) return;
    auto* self = static_cast<TlsGreetingServer*>(listener->data);
    auto client = std::make_unique<podgate::core::Stream>(self->loop_, *self);
    if (client->accept_from(listener) != 0 || !client->start_tls_server(self->context_.get())) {
      client->close();
    } else {
      client->start_reading();
    }
    self->clients_.push_back(std::move(client));
  }
  void on_stream_tls_ready(podgate::core::Stream& stream) override {
    stream.write(greeting_);
    stream.close_after_flush();
  }
  void on_stream_data(podgate::core::Stream&, std::string_view) override {}
  void on_stream_end(podgate::core::Stream& stream, podgate::core::StreamEnd) override {
    stream.close();
  }
  void on_stream_closed(podgate::core::Stream& stream) override {
    std::erase_if(clients_, [&](const auto& client) { return client.get() == &stream; });
  }

  uv_loop_t* loop_;
  std::string greeting_;
  podgate::core::SslCtxPtr context_;
  uv_tcp_t listener_;
  std::vector<std::unique_ptr<podgate::core::Stream>> clients_;
  int port_ = 0;
  bool closed_ = false;
};

// A bound socket: refusing (never listens) or mute (listens, never accepts).
class RawPort {
 public:
  explicit RawPort(bool listening) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    if (listening) ::listen(fd_, 16);
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~RawPort() { ::close(fd_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Runs the loop until `done` or five seconds passed; false on timeout.
bool run_until(uv_loop_t* loop, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    uv_run(loop, UV_RUN_ONCE);
  }
  return true;
}

}  // namespace

TEST_CASE("Greetings are judged per protocol from their first bytes", "[pod_health]") {
  CHECK(judge_greeting(Protocol::Imap, "* OK [CAPABILITY IMAP4rev1] ready\r\n") == true);
  CHECK(judge_greeting(Protocol::Imap, "* O") == std::nullopt);
  CHECK(judge_greeting(Protocol::Imap, "") == std::nullopt);
  CHECK(judge_greeting(Protocol::Imap, "* BYE too many connections\r\n") == false);
  CHECK(judge_greeting(Protocol::Imap, "* PREAUTH hi\r\n") == false);
  CHECK(judge_greeting(Protocol::Imap, "+OK pop\r\n") == false);
  CHECK(judge_greeting(Protocol::Pop3, "+OK Dovecot ready.\r\n") == true);
  CHECK(judge_greeting(Protocol::Pop3, "-ERR go away\r\n") == false);
  CHECK(judge_greeting(Protocol::Smtp, "220 mx ESMTP\r\n") == true);
  CHECK(judge_greeting(Protocol::Smtp, "220-mx ESMTP\r\n") == true);
  CHECK(judge_greeting(Protocol::Smtp, "22") == std::nullopt);
  CHECK(judge_greeting(Protocol::Smtp, "554 no\r\n") == false);
}

TEST_CASE("Probes mark pod servers up and down and follow directory changes", "[pod_health]") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    auto imap = std::make_unique<GreetingServer>(&loop, "* OK pod ready\r\n");
    GreetingServer pop3(&loop, "+OK ready\r\n");
    GreetingServer bad_smtp(&loop, "554 5.3.2 not today\r\n");
    RawPort refusing(false);
    RawPort mute(true);
    json document = {{"pods",
                      {{"pod-a",
                        {{"imap", {imap->address(), refusing.address()}},
                         {"pop3", {pop3.address()}},
                         {"smtp", {mute.address()}}}},
                       {"pod-b", {{"imap", {imap->address()}}, {"smtp", {bad_smtp.address()}}}}}}};
    auto directory = Directory::from_json(document);

    PodHealth health(&loop, {50, 300});
    health.set_directory(*directory);
    CHECK(health.state(Protocol::Imap, refusing.address()) == PodHealth::State::Unknown);
    CHECK(health.is_up(Protocol::Imap, refusing.address()));  // never probed yet
    health.start();
    auto all_known = [&] {
      for (const auto& entry : directory->pod_servers()) {
        if (health.state(entry.protocol, entry.server.text) == PodHealth::State::Unknown)
          return false;
      }
      return true;
    };
    REQUIRE(run_until(&loop, all_known));
    CHECK(health.state(Protocol::Imap, imap->address()) == PodHealth::State::Up);
    CHECK(health.state(Protocol::Imap, refusing.address()) == PodHealth::State::Down);
    CHECK_FALSE(health.is_up(Protocol::Imap, refusing.address()));
    CHECK(health.state(Protocol::Pop3, pop3.address()) == PodHealth::State::Up);
    CHECK(health.state(Protocol::Smtp, mute.address()) == PodHealth::State::Down);
    CHECK(health.state(Protocol::Smtp, bad_smtp.address()) == PodHealth::State::Down);
    // The same server under another protocol is another target.
    CHECK(health.state(Protocol::Pop3, imap->address()) == PodHealth::State::Unknown);

    std::string metrics = health.metrics_text();
    CHECK_THAT(metrics, Catch::Contains("# TYPE podgate_directory_server_up gauge"));
    CHECK_THAT(metrics, Catch::Contains("podgate_directory_server_up{pod=\"pod-a\",protocol="
                                        "\"imap\",server=\"" +
                                        imap->address() + "\"} 1"));
    CHECK_THAT(metrics, Catch::Contains("podgate_directory_server_up{pod=\"pod-b\",protocol="
                                        "\"imap\",server=\"" +
                                        imap->address() + "\"} 1"));
    CHECK_THAT(metrics, Catch::Contains("server=\"" + refusing.address() + "\"} 0"));
    CHECK_THAT(metrics, Catch::Contains("server=\"" + mute.address() + "\"} 0"));

    // Down from the first failed probe, up again from the first good one.
    int port = imap->port();
    imap->close();
    REQUIRE(run_until(&loop, [&] {
      return health.state(Protocol::Imap, "127.0.0.1:" + std::to_string(port)) ==
             PodHealth::State::Down;
    }));
    GreetingServer again(&loop, "* OK back\r\n", port);
    REQUIRE(run_until(&loop, [&] {
      return health.state(Protocol::Imap, again.address()) == PodHealth::State::Up;
    }));

    // Servers that left the directory are forgotten; new ones are probed at once.
    GreetingServer fresh(&loop, "* OK fresh\r\n");
    auto smaller = Directory::from_json(
        json{{"pods", {{"pod-c", {{"imap", {fresh.address(), again.address()}}}}}}});
    health.set_directory(*smaller);
    CHECK(health.state(Protocol::Imap, refusing.address()) == PodHealth::State::Unknown);
    CHECK(health.state(Protocol::Imap, again.address()) == PodHealth::State::Up);
    REQUIRE(run_until(&loop, [&] {
      return health.state(Protocol::Imap, fresh.address()) == PodHealth::State::Up;
    }));
    CHECK_THAT(health.metrics_text(), !Catch::Contains("pod-a") && Catch::Contains("pod-c"));

    health.stop();
    health.stop();
    REQUIRE(run_until(&loop, [&] { return health.closed(); }));
    pop3.close();
    bad_smtp.close();
    again.close();
    fresh.close();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("Servers of a pod with implicit TLS are probed inside TLS", "[pod_health]") {
  // As podgate-directory does: a server that hangs up on our ClientHello is
  // an error code, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    TlsGreetingServer imaps(&loop, "* OK [CAPABILITY IMAP4rev1] TLS pod ready\r\n");
    TlsGreetingServer pop3s(&loop, "+OK TLS pod ready\r\n");
    GreetingServer plain(&loop, "* OK plain pod\r\n");
    json document = {{"pods",
                      {{"pod-tls",
                        {{"imap", {imaps.address(), plain.address()}},
                         {"pop3", {pop3s.address()}},
                         {"backend_tls", "implicit"}}}}}};
    auto directory = Directory::from_json(document);
    PodHealth health(&loop, {50, 500});
    health.set_directory(*directory);
    health.start();
    REQUIRE(run_until(&loop, [&] {
      return health.state(Protocol::Imap, imaps.address()) != PodHealth::State::Unknown &&
             health.state(Protocol::Pop3, pop3s.address()) != PodHealth::State::Unknown &&
             health.state(Protocol::Imap, plain.address()) != PodHealth::State::Unknown;
    }));
    CHECK(health.state(Protocol::Imap, imaps.address()) == PodHealth::State::Up);
    CHECK(health.state(Protocol::Pop3, pop3s.address()) == PodHealth::State::Up);
    // A plaintext server where the pod says TLS: the handshake fails, down.
    CHECK(health.state(Protocol::Imap, plain.address()) == PodHealth::State::Down);

    // The same TLS server in a pod without TLS: its greeting never comes in
    // plaintext (it waits for a ClientHello), so it is down.
    auto plaintext =
        Directory::from_json(json{{"pods", {{"pod-x", {{"imap", {imaps.address()}}}}}}});
    PodHealth other(&loop, {50, 300});
    other.set_directory(*plaintext);
    other.start();
    REQUIRE(run_until(&loop, [&] {
      return other.state(Protocol::Imap, imaps.address()) != PodHealth::State::Unknown;
    }));
    CHECK(other.state(Protocol::Imap, imaps.address()) == PodHealth::State::Down);

    health.stop();
    other.stop();
    REQUIRE(run_until(&loop, [&] { return health.closed() && other.closed(); }));
    imaps.close();
    pop3s.close();
    plain.close();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("With probing off every server counts as up and nothing is opened", "[pod_health]") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    RawPort refusing(false);
    auto directory =
        Directory::from_json(json{{"pods", {{"pod-a", {{"imap", {refusing.address()}}}}}}});
    PodHealth health(&loop, {0, 100});
    health.set_directory(*directory);
    health.start();
    CHECK(health.closed());
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(health.is_up(Protocol::Imap, refusing.address()));
    CHECK_THAT(health.metrics_text(), Catch::Contains("} 1"));
    health.stop();
  }
  CHECK(uv_loop_close(&loop) == 0);
}
