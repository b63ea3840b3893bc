#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "backend-directory/directory_api.h"

using nlohmann::json;
using podgate::core::http::Request;
using podgate::core::http::Response;
using podgate::directory::DirectoryApi;
using podgate::directory::DirectoryStore;
using podgate::directory::Protocol;

namespace {

const char* kApiDirectory = R"({
  "pods": {
    "pod-1": {"imap": ["127.0.0.1:20143", "127.0.0.1:20144"], "pop3": ["127.0.0.1:20110"]},
    "pod-2": {"imap": ["127.0.0.1:20243"], "smtp": ["127.0.0.1:20587"], "smtp_auth": "login"}
  },
  "users": {
    "alice@example.com": {"pod": "pod-1"},
    "bob@example.com": {"pod": "pod-2", "pop3": false}
  },
  "domains": {"example.org": {"pod": "pod-2"}}
})";

// Servers listed in `down` fail their probes; everything else is up.
class FakeHealth : public podgate::directory::ServerHealth {
 public:
  std::set<std::string> down;
  int directory_updates = 0;
  std::size_t servers_seen = 0;

  bool is_up(Protocol, std::string_view server) const override {
    return !down.count(std::string(server));
  }
  void set_directory(const podgate::directory::Directory& directory) override {
    ++directory_updates;
    servers_seen = directory.pod_servers().size();
  }
  std::string metrics_text() const override {
    return "podgate_directory_server_up{pod=\"fake\",protocol=\"imap\",server=\"x\"} 1\n";
  }
};

struct ApiFixture {
  std::string folder;
  std::string path;
  DirectoryStore store;
  FakeHealth health;
  podgate::core::metrics::Registry metrics;
  DirectoryApi api;

  static std::string make_folder() {
    char name[] = "/tmp/pg-api-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    std::ofstream(std::string(name) + "/directory.json") << kApiDirectory;
    return name;
  }
  static DirectoryStore loaded(const std::string& path) {
    DirectoryStore store(path);
    store.load();
    return store;
  }

  ApiFixture()
      : folder(make_folder()),
        path(folder + "/directory.json"),
        store(loaded(path)),
        api(store, &health, metrics, {42}) {}
  ~ApiFixture() { std::filesystem::remove_all(folder); }

  Response call(const std::string& method, const std::string& target,
                const std::string& body = "") {
    Request request;
    request.method = method;
    request.target = target;
    request.body = body;
    return api.handle(request);
  }
  std::string file_text() const {
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }
  std::string metrics_text() { return call("GET", "/metrics").body; }
};

json body_of(const Response& response) {
  return json::parse(response.body);
}

}  // namespace

TEST_CASE("Lookup answers name the pod, the live servers and the TTL", "[directory_api]") {
  ApiFixture fixture;
  Response found = fixture.call("GET", "/v1/lookup?user=alice%40example.com&protocol=imap");
  CHECK(found.status == 200);
  CHECK_THAT(found.header("Content-Type").value_or(""), Catch::Contains("application/json"));
  CHECK(body_of(found) == json::parse(R"({"user": "alice@example.com", "protocol": "imap",
    "pod": "pod-1", "enabled": true, "basic_auth": true,
    "servers": ["127.0.0.1:20143", "127.0.0.1:20144"],
    "backend_tls": "none", "smtp_auth": "plain", "ttl": 42})"));

  json bob = body_of(fixture.call("GET", "/v1/lookup?user=BOB@example.com&protocol=pop3"));
  CHECK(bob["pod"] == "pod-2");
  CHECK(bob["enabled"] == false);
  CHECK(bob["servers"] == json::array());
  json smtp = body_of(fixture.call("GET", "/v1/lookup?protocol=smtp&user=bob@example.com"));
  CHECK(smtp["smtp_auth"] == "login");
  CHECK(smtp["servers"] == json::array({"127.0.0.1:20587"}));
  json by_domain = body_of(fixture.call("GET", "/v1/lookup?user=erin@example.org&protocol=imap"));
  CHECK(by_domain["pod"] == "pod-2");
  CHECK(by_domain["user"] == "erin@example.org");
}

TEST_CASE("Lookups leave out servers that are down, and say when none is left", "[directory_api]") {
  ApiFixture fixture;
  fixture.health.down = {"127.0.0.1:20143"};
  json some = body_of(fixture.call("GET", "/v1/lookup?user=alice@example.com&protocol=imap"));
  CHECK(some["servers"] == json::array({"127.0.0.1:20144"}));
  CHECK_FALSE(some.contains("error"));

  fixture.health.down.insert("127.0.0.1:20144");
  Response none = fixture.call("GET", "/v1/lookup?user=alice@example.com&protocol=imap");
  CHECK(none.status == 200);
  CHECK(body_of(none)["servers"] == json::array());
  CHECK(body_of(none)["error"] == "no server available");
  CHECK(body_of(none)["pod"] == "pod-1");
  CHECK_THAT(fixture.metrics_text(),
             Catch::Contains("podgate_directory_lookups_total{result=\"found\"} 1") &&
                 Catch::Contains("podgate_directory_lookups_total{result=\"no_server\"} 1"));
}

TEST_CASE("Lookups of unknown users and bad parameters are refused", "[directory_api]") {
  ApiFixture fixture;
  Response unknown = fixture.call("GET", "/v1/lookup?user=mallory@example.net&protocol=imap");
  CHECK(unknown.status == 404);
  CHECK(body_of(unknown) == json{{"error", "unknown user"}});

  for (const char* target :
       {"/v1/lookup?protocol=imap", "/v1/lookup?user=&protocol=imap", "/v1/lookup?user=a@b",
        "/v1/lookup?user=alice@example.com&protocol=IMAP", "/v1/lookup?user=a@b&protocol=lmtp",
        "/v1/lookup"}) {
    INFO(target);
    Response bad = fixture.call("GET", target);
    CHECK(bad.status == 400);
    CHECK(body_of(bad).contains("error"));
  }
  CHECK(fixture.call("POST", "/v1/lookup?user=alice@example.com&protocol=imap").status == 405);
  std::string metrics = fixture.metrics_text();
  CHECK_THAT(metrics,
             Catch::Contains("podgate_directory_lookups_total{result=\"unknown\"} 1") &&
                 Catch::Contains("podgate_directory_lookups_total{result=\"bad_request\"} 6"));
}

TEST_CASE("Users are read, created, replaced and deleted through the API", "[directory_api]") {
  ApiFixture fixture;
  Response alice = fixture.call("GET", "/v1/users/alice%40example.com");
  CHECK(alice.status == 200);
  CHECK(body_of(alice) == json{{"pod", "pod-1"}});
  CHECK(fixture.call("GET", "/v1/users/ALICE@example.com").status == 200);
  CHECK(fixture.call("GET", "/v1/users/carol%40example.com").status == 404);

  Response created =
      fixture.call("PUT", "/v1/users/Carol%40Example.com", R"({"pod": "pod-2", "smtp": false})");
  CHECK(created.status == 201);
  CHECK(body_of(created) == json::parse(R"({"pod": "pod-2", "smtp": false})"));
  CHECK(json::parse(fixture.file_text())["users"]["carol@example.com"]["pod"] == "pod-2");
  CHECK(body_of(fixture.call("GET", "/v1/lookup?user=carol@example.com&protocol=imap"))["pod"] ==
        "pod-2");

  Response moved = fixture.call("PUT", "/v1/users/alice@example.com", R"({"pod": "pod-2"})");
  CHECK(moved.status == 200);
  CHECK(body_of(fixture.call("GET", "/v1/lookup?user=alice@example.com&protocol=imap"))["pod"] ==
        "pod-2");

  CHECK(fixture.call("DELETE", "/v1/users/carol%40example.com").status == 200);
  CHECK(fixture.call("DELETE", "/v1/users/carol%40example.com").status == 404);
  CHECK(fixture.call("GET", "/v1/lookup?user=carol@example.com&protocol=imap").status == 404);
  CHECK(fixture.call("POST", "/v1/users/alice@example.com", "{}").status == 405);
  CHECK(fixture.call("PATCH", "/v1/users/alice@example.com", "{}").header("Allow") ==
        "GET, PUT, DELETE");
  CHECK_THAT(fixture.metrics_text(),
             Catch::Contains("podgate_directory_edits_total{result=\"ok\"} 3") &&
                 Catch::Contains("podgate_directory_users 2"));
}

TEST_CASE("Domains are read, created, replaced and deleted through the API", "[directory_api]") {
  ApiFixture fixture;
  CHECK(fixture.call("GET", "/v1/domains/modern.example").status == 404);
  Response created =
      fixture.call("PUT", "/v1/domains/Modern.Example", R"({"pod": "pod-2", "basic_auth": false})");
  CHECK(created.status == 201);
  CHECK(body_of(fixture.call("GET", "/v1/domains/MODERN.example")) ==
        json::parse(R"({"pod": "pod-2", "basic_auth": false})"));
  json answer = body_of(fixture.call("GET", "/v1/lookup?user=anyone@modern.example&protocol=imap"));
  CHECK(answer["pod"] == "pod-2");
  CHECK(answer["basic_auth"] == false);
  Response bad = fixture.call("PUT", "/v1/domains/modern.example", R"({"pod": "pod-9"})");
  CHECK(bad.status == 400);
  CHECK_THAT(body_of(bad)["error"].get<std::string>(), Catch::Contains("unknown pod \"pod-9\""));
  CHECK(fixture.call("DELETE", "/v1/domains/modern.example").status == 200);
  CHECK(fixture.call("DELETE", "/v1/domains/modern.example").status == 404);
  CHECK(body_of(fixture.call("GET", "/v1/domains/modern.example"))["error"] == "unknown domain");
  CHECK(fixture.call("GET", "/v1/lookup?user=anyone@modern.example&protocol=imap").status == 404);
}

TEST_CASE("Bad user edits answer 400 with the reason and leave the file alone", "[directory_api]") {
  ApiFixture fixture;
  const std::string original = fixture.file_text();
  struct Case {
    const char* target;
    const char* body;
    const char* reason;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"/v1/users/alice@example.com", "{\"pod\": ", "malformed JSON"},
           {"/v1/users/alice@example.com", "", "malformed JSON"},
           {"/v1/users/alice@example.com", R"({"pod": 7})", "\"pod\" must be a string"},
           {"/v1/users/alice@example.com", R"({"pod": "pod-1", "imap": 1})", "true or false"},
           {"/v1/users/alice@example.com", R"({"pod": "pod-1", "quota": 1})",
            "unknown key \"quota\""},
           {"/v1/users/alice@example.com", R"({"pod": "pod-9"})", "unknown pod \"pod-9\""},
           {"/v1/users/alice@example.com", R"(["pod-1"])", "must be a JSON object"},
           {"/v1/users/new%0Auser", R"({"pod": "pod-1"})", "control character"},
           {"/v1/users/%FF", R"({"pod": "pod-1"})", "UTF-8"},
           {"/v1/pods/pod-1", R"({"imap": "127.0.0.1:1"})", "must be a list"},
           {"/v1/pods/pod-1", R"({"imap": ["localhost:143"]})", "ip:port"},
           {"/v1/pods/pod-3", R"({"backend_tls": "starttls"})", "backend_tls"},
           {"/v1/pods/pod-3", R"({"smtp_auth": true})", "smtp_auth"},
           {"/v1/pods/pod-3", R"({"web": []})", "unknown key \"web\""},
           {"/v1/pods/pod-3", "nope", "malformed JSON"},
       }) {
    INFO(c.target << " " << c.body);
    Response response = fixture.call("PUT", c.target, c.body);
    CHECK(response.status == 400);
    CHECK_THAT(body_of(response).value("error", ""), Catch::Contains(c.reason));
    CHECK(fixture.file_text() == original);
  }
  CHECK_THAT(fixture.metrics_text(),
             Catch::Contains("podgate_directory_edits_total{result=\"rejected\"} 15"));
}

TEST_CASE("Pods are read, created, replaced and deleted only when unused", "[directory_api]") {
  ApiFixture fixture;
  int updates = fixture.health.directory_updates;
  CHECK(body_of(fixture.call("GET", "/v1/pods/pod-2")) ==
        json::parse(R"({"imap": ["127.0.0.1:20243"], "smtp": ["127.0.0.1:20587"],
                        "smtp_auth": "login"})"));
  CHECK(fixture.call("GET", "/v1/pods/pod-9").status == 404);

  Response created = fixture.call("PUT", "/v1/pods/pod-3",
                                  R"({"imap": ["127.0.0.1:30143"], "backend_tls": "none"})");
  CHECK(created.status == 201);
  CHECK(body_of(created)["imap"] == json::array({"127.0.0.1:30143"}));
  CHECK(fixture.health.directory_updates == updates + 1);
  CHECK(fixture.health.servers_seen == 6);
  CHECK(fixture.call("PUT", "/v1/pods/pod-3", R"({"imap": ["127.0.0.1:30144"]})").status == 200);
  CHECK(json::parse(fixture.file_text())["pods"]["pod-3"] ==
        json::parse(R"({"imap": ["127.0.0.1:30144"]})"));

  const std::string before = fixture.file_text();
  Response in_use = fixture.call("DELETE", "/v1/pods/pod-2");
  CHECK(in_use.status == 409);
  CHECK_THAT(body_of(in_use).value("error", ""),
             Catch::Contains("bob@example.com") && Catch::Contains("example.org"));
  CHECK(fixture.file_text() == before);
  CHECK(fixture.call("DELETE", "/v1/pods/pod-3").status == 200);
  CHECK(fixture.call("DELETE", "/v1/pods/pod-3").status == 404);
  CHECK(fixture.call("POST", "/v1/pods/pod-3").status == 405);
  CHECK_THAT(fixture.metrics_text(), Catch::Contains("podgate_directory_pods 2"));
}

TEST_CASE("Health, metrics and unknown paths", "[directory_api]") {
  ApiFixture fixture;
  Response health = fixture.call("GET", "/healthz");
  CHECK(health.status == 200);
  CHECK(body_of(health) == json::parse(R"({"status": "ok", "users": 2, "pods": 2})"));
  CHECK(fixture.call("PUT", "/healthz").status == 405);
  CHECK(fixture.call("DELETE", "/metrics").status == 405);

  CHECK(fixture.call("GET", "/").status == 404);
  CHECK(fixture.call("GET", "/v1/users").status == 404);
  CHECK(fixture.call("GET", "/v1/users/a/b").status == 404);
  CHECK(fixture.call("GET", "/v2/lookup").status == 404);
  CHECK(fixture.call("GET", "/v1/users/%zz").status == 400);

  Response metrics = fixture.call("GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK_THAT(metrics.header("Content-Type").value_or(""), Catch::Contains("text/plain"));
  for (const char* series :
       {"# TYPE podgate_directory_requests_total counter", "podgate_directory_requests_total 9",
        "podgate_directory_lookups_total{result=\"found\"} 0",
        "podgate_directory_reloads_total{result=\"ok\"} 0",
        "podgate_directory_reloads_total{result=\"failed\"} 0",
        "podgate_directory_edits_total{result=\"ok\"} 0", "podgate_directory_users 2",
        "podgate_directory_pods 2", "podgate_directory_server_up{pod=\"fake\""}) {
    CHECK_THAT(metrics.body, Catch::Contains(series));
  }
}

TEST_CASE("API reloads count their results and keep the old data on a bad file",
          "[directory_api]") {
  ApiFixture fixture;
  int updates = fixture.health.directory_updates;
  CHECK(fixture.api.reload(/*forced=*/false).ok);
  CHECK(fixture.api.reload(/*forced=*/true).ok);
  CHECK(fixture.health.directory_updates == updates);  // unchanged file

  std::ofstream(fixture.path) << R"({"pods": {"p": {"imap": ["127.0.0.1:1"]}},
                                     "users": {"zed@example.com": {"pod": "p"}}})";
  auto changed = fixture.api.reload(false);
  CHECK(changed.changed);
  CHECK(fixture.health.directory_updates == updates + 1);
  CHECK(body_of(fixture.call("GET", "/v1/lookup?user=zed@example.com&protocol=imap"))["pod"] ==
        "p");

  std::ofstream(fixture.path) << R"({"users": {"zed@example.com": {"pod": "gone"}}})";
  auto failed = fixture.api.reload(true);
  CHECK_FALSE(failed.ok);
  CHECK_THAT(failed.error, Catch::Contains("unknown pod \"gone\""));
  CHECK(fixture.call("GET", "/v1/lookup?user=zed@example.com&protocol=imap").status == 200);
  CHECK_THAT(fixture.metrics_text(),
             Catch::Contains("podgate_directory_reloads_total{result=\"ok\"} 2") &&
                 Catch::Contains("podgate_directory_reloads_total{result=\"failed\"} 1"));
}
