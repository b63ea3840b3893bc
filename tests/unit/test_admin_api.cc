#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "proxy/admin_api.h"
#include "proxy/directory/directory_client.h"

using nlohmann::json;
using podgate::core::http::Request;
using podgate::proxy::AdminApi;
using podgate::proxy::LiveSession;
using podgate::proxy::SessionSummary;

namespace {

class FakeSession : public LiveSession {
 public:
  FakeSession(podgate::proxy::Worker& worker, std::string id, std::string user, bool logged_in)
      : worker_(worker) {
    summary_.id = std::move(id);
    summary_.protocol = "imap";
    summary_.user = std::move(user);
    summary_.pod = "pod-1";
    summary_.client = "127.0.0.1:5000";
    summary_.since_unix_ms = 1'700'000'000'123;
    summary_.logged_in = logged_in;
    summary_.bytes_to_client = 42;
    worker_.sessions.insert(this);
  }
  ~FakeSession() override { worker_.sessions.erase(this); }
  void shut_down() override {}
  void kick() override { ++kicks; }
  SessionSummary summary() const override { return summary_; }
  const std::string& user() const override { return summary_.user; }
  int kicks = 0;

 private:
  podgate::proxy::Worker& worker_;
  SessionSummary summary_;
};

class RememberingDirectory : public podgate::proxy::DirectoryClient {
 public:
  void lookup(const podgate::proxy::LookupRequest&, podgate::proxy::LookupDone) override {}
  void forget(const std::string& user) override { forgotten.push_back(user); }
  std::vector<std::string> forgotten;
};

Request request(std::string method, std::string target) {
  Request request;
  request.method = std::move(method);
  request.target = std::move(target);
  return request;
}

struct AdminFixture {
  podgate::core::metrics::Registry metrics;
  RememberingDirectory directory;
  podgate::proxy::Worker worker;
  AdminFixture() {
    worker.metrics = &metrics;
    worker.directory = &directory;
  }
  AdminApi api() {
    return AdminApi(
        metrics, [this](const auto& visit) { visit(worker); }, [this] { return worker.stopping; });
  }
};

}  // namespace

TEST_CASE("GET /v1/sessions lists who is logged in where", "[admin]") {
  AdminFixture fixture;
  AdminApi api = fixture.api();
  FakeSession alice(fixture.worker, "s1", "alice@example.com", true);
  FakeSession anonymous(fixture.worker, "s2", "", false);
  auto response = api.handle(request("GET", "/v1/sessions"));
  REQUIRE(response.status == 200);
  auto sessions = json::parse(response.body)["sessions"];
  REQUIRE(sessions.size() == 2);
  json listed_alice = sessions[0]["id"] == "s1" ? sessions[0] : sessions[1];
  CHECK(listed_alice["user"] == "alice@example.com");
  CHECK(listed_alice["pod"] == "pod-1");
  CHECK(listed_alice["client"] == "127.0.0.1:5000");
  CHECK(listed_alice["since"] == "2023-11-14T22:13:20.123Z");
  CHECK(listed_alice["bytes"]["to_client"] == 42);

  auto filtered = api.handle(request("GET", "/v1/sessions?user=ALICE%40example.com"));
  CHECK(json::parse(filtered.body)["sessions"].size() == 1);
}

TEST_CASE("POST /v1/kick closes the user's sessions and forgets their route", "[admin]") {
  AdminFixture fixture;
  AdminApi api = fixture.api();
  FakeSession first(fixture.worker, "s1", "alice@example.com", true);
  FakeSession second(fixture.worker, "s2", "Alice@Example.com", true);
  FakeSession other(fixture.worker, "s3", "bob@example.com", true);
  // someone who typed alice's name but never logged in is not her session
  FakeSession stranger(fixture.worker, "s4", "alice@example.com", false);
  auto response = api.handle(request("POST", "/v1/kick?user=alice%40example.com"));
  REQUIRE(response.status == 200);
  CHECK(json::parse(response.body)["kicked"] == 2);
  CHECK(first.kicks == 1);
  CHECK(second.kicks == 1);
  CHECK(other.kicks == 0);
  CHECK(stranger.kicks == 0);
  // forgotten after the kicks, and once more after every worker had its turn
  CHECK(fixture.directory.forgotten ==
        std::vector<std::string>{"alice@example.com", "alice@example.com"});
  CHECK(fixture.metrics.render().find("podgate_admin_kicked_sessions_total 2") !=
        std::string::npos);
}

TEST_CASE("Session listings survive user names that are not UTF-8", "[admin]") {
  AdminFixture fixture;
  AdminApi api = fixture.api();
  FakeSession odd(fixture.worker, "s1", "caf\xe9@example.com", true);
  auto response = api.handle(request("GET", "/v1/sessions"));
  REQUIRE(response.status == 200);
  CHECK(json::parse(response.body)["sessions"].size() == 1);
}

TEST_CASE("The admin API refuses what it does not serve", "[admin]") {
  AdminFixture fixture;
  AdminApi api = fixture.api();
  CHECK(api.handle(request("POST", "/v1/kick")).status == 400);
  CHECK(api.handle(request("GET", "/v1/kick?user=a")).status == 405);
  CHECK(api.handle(request("DELETE", "/v1/sessions")).status == 405);
  CHECK(api.handle(request("GET", "/nothing")).status == 404);
  CHECK(api.handle(request("GET", "/healthz")).status == 200);
  auto metrics = api.handle(request("GET", "/metrics"));
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("# TYPE podgate_admin_kicked_sessions_total counter") !=
        std::string::npos);
}
