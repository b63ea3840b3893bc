// WorkerThread: tasks from other threads run on the worker's own thread, in
// order; stop() ends the loop; nothing waits for ever on a stopped worker.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "proxy/login_metrics.h"
#include "proxy/worker_thread.h"

using podgate::proxy::Worker;
using podgate::proxy::WorkerThread;

namespace {

class NoDirectory : public podgate::proxy::DirectoryClient {
 public:
  void lookup(const podgate::proxy::LookupRequest&, podgate::proxy::LookupDone) override {}
};

struct WorkerFixture {
  podgate::proxy::Config config;
  podgate::core::metrics::Registry metrics;
  podgate::proxy::LoginMetrics login_metrics{metrics};
  NoDirectory directory;
  WorkerThread::Shared shared;

  WorkerFixture() {
    shared.config = &config;
    shared.metrics = &metrics;
    shared.login_metrics = &login_metrics;
    shared.shared_directory = &directory;
  }

  void listen_on_any_port() { listen_on("127.0.0.1:0"); }
  void listen_on(const std::string& address) {
    podgate::proxy::ListenerConfig listener;
    listener.listen = address;
    listener.address = *podgate::core::parse_socket_address(listener.listen);
    config.listeners.push_back(listener);
  }
};

}  // namespace

TEST_CASE("A worker runs tasks from other threads on its own thread, in order", "[worker]") {
  WorkerFixture fixture;
  WorkerThread worker(3, fixture.shared);
  REQUIRE(worker.open_listeners().empty());
  worker.start();

  std::thread::id ran_on;
  unsigned index = 99;
  worker.visit([&](Worker& w) {
    ran_on = std::this_thread::get_id();
    index = w.index;
  });
  CHECK(ran_on != std::this_thread::get_id());
  CHECK(index == 3);

  std::atomic<int> runs{0};
  int seen_by_visit = -1;
  for (int i = 0; i < 100; ++i) CHECK(worker.post([&](Worker&) { ++runs; }));
  // visit() queues behind the posts: they have all run when it returns
  worker.visit([&](Worker&) { seen_by_visit = runs.load(); });
  CHECK(seen_by_visit == 100);

  worker.stop();
  worker.join();
  bool ran_after_stop = false;
  CHECK_FALSE(worker.post([&](Worker&) { ran_after_stop = true; }));
  worker.visit([&](Worker&) { ran_after_stop = true; });  // returns at once
  CHECK_FALSE(ran_after_stop);
}

TEST_CASE("Tasks queued before stop() still run, so visit() never hangs", "[worker]") {
  WorkerFixture fixture;
  fixture.listen_on_any_port();
  WorkerThread worker(0, fixture.shared);
  REQUIRE(worker.open_listeners().empty());
  std::atomic<int> runs{0};
  // Queued before the loop runs: stop first, then tasks behind it.
  worker.stop();
  for (int i = 0; i < 10; ++i)
    worker.post([&](Worker& w) {
      CHECK(w.stopping);
      ++runs;
    });
  worker.start();
  worker.join();
  CHECK(runs == 10);
}

TEST_CASE("A draining worker with no session left ends its loop and says so", "[worker]") {
  WorkerFixture fixture;
  fixture.listen_on_any_port();
  std::atomic<int> ended_calls{0};
  fixture.shared.loop_ended = [&] { ++ended_calls; };
  WorkerThread worker(0, fixture.shared);
  REQUIRE(worker.open_listeners().empty());
  worker.start();
  CHECK_FALSE(worker.ended());
  CHECK(worker.drain() == 0);  // no logged-in session to wait for
  worker.join();               // ends by itself, without stop()
  CHECK(worker.ended());
  CHECK(ended_calls == 1);
  worker.stop();  // a late stop (a second signal) is harmless
  CHECK(worker.drain() == 0);
}

// A port nobody listens on now: bound to port 0 by the kernel, then let go.
std::string unused_loopback_address() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
}

TEST_CASE("A worker that never started closes its listeners when it goes", "[worker]") {
  WorkerFixture fixture;
  fixture.listen_on(unused_loopback_address());
  const auto& listener = fixture.config.listeners.front();
  REQUIRE(podgate::proxy::Listener::check_address_free(listener).empty());
  auto worker = std::make_unique<WorkerThread>(0, fixture.shared);
  REQUIRE(worker->open_listeners().empty());
  // listening now: another podgate would be refused
  CHECK_THAT(podgate::proxy::Listener::check_address_free(listener),
             Catch::Contains("another podgate still running"));
  worker.reset();  // must not hang
  CHECK(podgate::proxy::Listener::check_address_free(listener).empty());
}
