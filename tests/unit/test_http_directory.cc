// The HTTP directory client against real HTTP servers on loopback: caching,
// coalescing, failover and stale answers, all observed from the server side.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "backend-directory/lookup_answer.h"
#include "core/http/http_server.h"
#include "proxy/directory/directory_answers.h"
#include "proxy/directory/http_directory.h"

namespace core = podgate::core;
using podgate::directory::Protocol;
using podgate::proxy::DirectoryConfig;
using podgate::proxy::HttpDirectory;
using podgate::proxy::LoginOutcome;
using podgate::proxy::LookupRequest;
using podgate::proxy::LookupResult;

namespace {

// A stand-in podgate-directory: alice lives on pod-1, everyone else is unknown.
struct FakeDirectoryServer {
  core::http::Server server;
  int requests = 0;
  std::uint32_t ttl_seconds = 30;
  int fail_with = 0;          // an HTTP status to answer every lookup with
  bool no_server_up = false;  // alice's pod has no server up
  std::string backend_tls = "none";

  explicit FakeDirectoryServer(uv_loop_t* loop)
      : server(loop, [this](const core::http::Request& request) { return answer(request); }) {
    REQUIRE(server.listen(*core::parse_socket_address("127.0.0.1:0")).empty());
  }
  std::string url() const { return "http://" + server.local_address().text(); }

  core::http::Response answer(const core::http::Request& request) {
    ++requests;
    if (request.path() != "/v1/lookup") {
      return core::http::Response::json(404, R"({"error": "not found"})");
    }
    if (fail_with != 0) return core::http::Response::json(fail_with, R"({"error": "broken"})");
    auto query = request.query();
    if (query["user"] != "alice@example.com") {
      return core::http::Response::json(404, R"({"error": "unknown user"})");
    }
    podgate::directory::Route route;
    route.pod = "pod-1";
    if (!no_server_up) {
      route.servers.push_back({"127.0.0.1:20143", *core::parse_socket_address("127.0.0.1:20143")});
    }
    auto answer = podgate::directory::encode_lookup_answer("alice@example.com", Protocol::Imap,
                                                           route, ttl_seconds);
    answer["backend_tls"] = backend_tls;
    return core::http::Response::json(200, answer.dump());
  }
};

// A port with nothing listening: connections are refused.
std::string refused_url() {
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_tcp_t probe;
  uv_tcp_init(&loop, &probe);
  auto address = *core::parse_socket_address("127.0.0.1:0");
  uv_tcp_bind(&probe, address.get(), 0);
  int length = sizeof address.storage;
  uv_tcp_getsockname(&probe, address.get(), &length);
  uv_close(reinterpret_cast<uv_handle_t*>(&probe), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return "http://" + address.text();
}

struct Harness {
  uv_loop_t loop;
  core::metrics::Registry metrics;
  std::vector<LookupResult> results;

  Harness() { uv_loop_init(&loop); }
  ~Harness() {
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }

  void lookup(HttpDirectory& directory, const std::string& user) {
    LookupRequest request;
    request.user = user;
    request.protocol = Protocol::Imap;
    directory.lookup(request,
                     [this](LookupResult result) { results.push_back(std::move(result)); });
  }
  // Runs the loop until `count` answers arrived (the servers keep it alive).
  void wait_for(std::size_t count) {
    while (results.size() < count) {
      if (uv_run(&loop, UV_RUN_ONCE) == 0 && results.size() < count) FAIL("the loop ran dry");
    }
  }
  // Lets every closed handle finish before the objects that own them go.
  void drain() { uv_run(&loop, UV_RUN_DEFAULT); }
  std::uint64_t counter(const std::string& result) {
    std::string text = metrics.render();
    std::string needle = "podgate_directory_client_lookups_total{result=\"" + result + "\"} ";
    auto at = text.find(needle);
    REQUIRE(at != std::string::npos);
    return std::stoull(text.substr(at + needle.size()));
  }
};

DirectoryConfig config_for(std::vector<std::string> urls) {
  DirectoryConfig config;
  config.source = podgate::proxy::DirectorySource::Http;
  config.urls = std::move(urls);
  config.timeout_ms = 500;
  return config;
}

}  // namespace

TEST_CASE("Directory answers are cached for their TTL and unknown users briefly",
          "[http_directory]") {
  Harness harness;
  FakeDirectoryServer directory_server(&harness.loop);
  HttpDirectory directory(&harness.loop, config_for({directory_server.url()}), harness.metrics);

  harness.lookup(directory, "alice@example.com");
  harness.wait_for(1);
  REQUIRE(harness.results[0].route.has_value());
  CHECK(harness.results[0].route->pod == "pod-1");
  CHECK(std::string(harness.results[0].source) == "directory");

  harness.lookup(directory, "ALICE@example.com");  // answered from the cache, at once
  REQUIRE(harness.results.size() == 2);
  CHECK(std::string(harness.results[1].source) == "cache");

  harness.lookup(directory, "nobody@example.com");
  harness.wait_for(3);
  CHECK(harness.results[2].failure == LoginOutcome::UnknownUser);
  harness.lookup(directory, "nobody@example.com");
  REQUIRE(harness.results.size() == 4);
  CHECK(harness.results[3].failure == LoginOutcome::UnknownUser);

  CHECK(directory_server.requests == 2);
  CHECK(harness.counter("cache_hit") == 1);
  CHECK(harness.counter("negative_cache_hit") == 1);

  directory.forget("alice@example.com");
  harness.lookup(directory, "alice@example.com");
  harness.wait_for(5);
  CHECK(directory_server.requests == 3);

  directory.close();
  directory_server.server.close();
  harness.drain();
}

TEST_CASE("Concurrent lookups for one user share one request", "[http_directory]") {
  Harness harness;
  FakeDirectoryServer directory_server(&harness.loop);
  HttpDirectory directory(&harness.loop, config_for({directory_server.url()}), harness.metrics);
  for (int i = 0; i < 5; ++i) harness.lookup(directory, "alice@example.com");
  harness.wait_for(5);
  CHECK(directory_server.requests == 1);
  for (const auto& result : harness.results) CHECK(result.route.has_value());
  CHECK(harness.counter("coalesced") == 4);
  directory.close();
  directory_server.server.close();
  harness.drain();
}

TEST_CASE("A directory URL that refuses passes the lookup to the next", "[http_directory]") {
  Harness harness;
  FakeDirectoryServer directory_server(&harness.loop);
  HttpDirectory directory(&harness.loop, config_for({refused_url(), directory_server.url()}),
                          harness.metrics);
  harness.lookup(directory, "alice@example.com");
  harness.wait_for(1);
  CHECK(harness.results[0].route.has_value());
  CHECK(directory_server.requests == 1);
  directory.close();
  directory_server.server.close();
  harness.drain();
}

TEST_CASE("With every directory down, expired routes are served stale and others are unavailable",
          "[http_directory]") {
  Harness harness;
  auto directory_server = std::make_unique<FakeDirectoryServer>(&harness.loop);
  directory_server->ttl_seconds = 0;  // expires at once: the next lookup must ask again
  HttpDirectory directory(&harness.loop, config_for({directory_server->url()}), harness.metrics);
  harness.lookup(directory, "alice@example.com");
  harness.wait_for(1);
  REQUIRE(harness.results[0].route.has_value());

  directory_server->server.close();
  uv_run(&harness.loop, UV_RUN_NOWAIT);
  harness.lookup(directory, "alice@example.com");
  harness.lookup(directory, "bob@example.com");
  harness.wait_for(3);
  CHECK(harness.results[1].route.has_value());
  CHECK(std::string(harness.results[1].source) == "stale");
  CHECK(harness.results[1].route->pod == "pod-1");
  CHECK(harness.results[2].failure == LoginOutcome::DirectoryUnavailable);
  CHECK(harness.counter("stale") == 1);
  CHECK(harness.counter("unavailable") == 1);
  directory.close();
  harness.drain();
}

TEST_CASE("A 404 that is not about the user, a 5xx or a TLS mode podgate lacks fail over",
          "[http_directory]") {
  Harness harness;
  FakeDirectoryServer wrong_path(&harness.loop);
  FakeDirectoryServer broken(&harness.loop);
  broken.fail_with = 503;
  FakeDirectoryServer wants_tls(&harness.loop);
  wants_tls.backend_tls = "starttls";
  FakeDirectoryServer good(&harness.loop);
  HttpDirectory directory(&harness.loop,
                          config_for({wrong_path.url() + "/not-the-api/", broken.url(),
                                      wants_tls.url(), good.url() + "/"}),
                          harness.metrics);
  harness.lookup(directory, "alice@example.com");
  harness.wait_for(1);
  CHECK(harness.results[0].route.has_value());
  CHECK(wrong_path.requests == 1);
  CHECK(broken.requests == 1);
  CHECK(wants_tls.requests == 1);
  CHECK(good.requests == 1);  // its trailing '/' did not break the path

  // The URL that answered is asked first from now on.
  harness.lookup(directory, "nobody@example.com");
  harness.wait_for(2);
  CHECK(harness.results[1].failure == LoginOutcome::UnknownUser);
  CHECK(good.requests == 2);
  CHECK(wrong_path.requests == 1);

  directory.close();
  for (auto* server : {&wrong_path, &broken, &wants_tls, &good}) server->server.close();
  harness.drain();
}

TEST_CASE("No server available is answered but not cached", "[http_directory]") {
  Harness harness;
  FakeDirectoryServer directory_server(&harness.loop);
  directory_server.no_server_up = true;
  HttpDirectory directory(&harness.loop, config_for({directory_server.url()}), harness.metrics);
  harness.lookup(directory, "alice@example.com");
  harness.wait_for(1);
  REQUIRE(harness.results[0].route.has_value());
  CHECK(harness.results[0].route->servers.empty());
  directory_server.no_server_up = false;  // the probe sees the pod back
  harness.lookup(directory, "alice@example.com");
  harness.wait_for(2);
  CHECK(harness.results[1].route->servers.size() == 1);
  CHECK(directory_server.requests == 2);
  directory.close();
  directory_server.server.close();
  harness.drain();
}

TEST_CASE("A route on its way when the user is forgotten is not cached", "[http_directory]") {
  Harness harness;
  FakeDirectoryServer directory_server(&harness.loop);
  HttpDirectory directory(&harness.loop, config_for({directory_server.url()}), harness.metrics);
  harness.lookup(directory, "alice@example.com");
  directory.forget("alice@example.com");  // a kick after a move, while the answer travels
  harness.wait_for(1);
  CHECK(harness.results[0].route.has_value());
  harness.lookup(directory, "alice@example.com");
  harness.wait_for(2);
  CHECK(std::string(harness.results[1].source) == "directory");
  CHECK(directory_server.requests == 2);
  directory.close();
  directory_server.server.close();
  harness.drain();
}

TEST_CASE("What a podgate-directory answer means, without I/O", "[http_directory]") {
  using podgate::proxy::DirectoryAnswer;
  using podgate::proxy::interpret_directory_answer;
  using Kind = DirectoryAnswer::Kind;
  auto answer = [](int status, std::string body) {
    return interpret_directory_answer(core::http::Response::json(status, std::move(body)));
  };

  DirectoryAnswer found = answer(200, R"({"pod": "pod-1", "enabled": true, "ttl": 30,
                                         "servers": ["127.0.0.1:20143"]})");
  REQUIRE(found.kind == Kind::Found);
  CHECK(found.lookup.route.pod == "pod-1");
  CHECK(found.lookup.route.servers.at(0).text == "127.0.0.1:20143");
  CHECK(found.lookup.ttl_seconds == 30);
  CHECK(found.problem.empty());

  CHECK(answer(404, R"({"error": "unknown user"})").kind == Kind::UnknownUser);
  CHECK(answer(400, R"({"error": "user name too long"})").kind == Kind::UnusableName);

  DirectoryAnswer wrong_path = answer(404, R"({"error": "not found"})");
  CHECK(wrong_path.kind == Kind::Failed);
  CHECK(wrong_path.problem == "HTTP status 404");
  // A non-string "error" once threw out of the client's callback.
  for (const char* odd : {R"({"error": 1})", R"({"error": null})", R"({"error": ["x"]})", "[]"}) {
    CHECK(answer(404, odd).kind == Kind::Failed);
  }
  CHECK(answer(503, "").problem == "HTTP status 503");

  DirectoryAnswer broken = answer(200, R"({"pod": "pod-1")");
  CHECK(broken.kind == Kind::Failed);
  CHECK(broken.problem.rfind("unusable answer: ", 0) == 0);
  DirectoryAnswer host_name =
      answer(200, R"({"pod": "pod-1", "enabled": true, "ttl": 30, "servers": ["db:143"]})");
  CHECK(host_name.kind == Kind::Failed);
}
