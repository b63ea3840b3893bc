#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "backend-directory/directory.h"

using nlohmann::json;
using podgate::directory::Directory;
using podgate::directory::DirectoryError;
using podgate::directory::Protocol;

namespace {
json example() {
  return json::parse(R"({
    "pods": {
      "pod-1": {"imap": ["127.0.0.1:20143", "[::1]:20144"], "pop3": ["127.0.0.1:20110"]},
      "pod-2": {"imap": ["127.0.0.1:20243"], "smtp": ["127.0.0.1:20587"], "smtp_auth": "login"}
    },
    "users": {
      "alice@example.com": {"pod": "pod-1"},
      "Bob@Example.com": {"pod": "pod-2", "pop3": false}
    },
    "domains": {"example.org": {"pod": "pod-2"}}
  })");
}
}  // namespace

TEST_CASE("Users are routed to their pod's servers for the protocol", "[directory]") {
  auto directory = Directory::from_json(example());
  auto alice = directory->lookup("alice@example.com", Protocol::Imap);
  REQUIRE(alice);
  CHECK(alice->pod == "pod-1");
  REQUIRE(alice->servers.size() == 2);
  CHECK(alice->servers[0].text == "127.0.0.1:20143");
  CHECK(alice->servers[1].address.port() == 20144);
  CHECK(alice->protocol_enabled);
  CHECK(directory->lookup("alice@example.com", Protocol::Smtp)->servers.empty());
  CHECK(directory->lookup("alice@example.com", Protocol::Smtp)->smtp_auth == "plain");
  CHECK(directory->lookup("bob@example.com", Protocol::Smtp)->smtp_auth == "login");
  CHECK(directory->all_servers(Protocol::Imap).size() == 3);
  CHECK(directory->all_servers(Protocol::Smtp).at(0).text == "127.0.0.1:20587");
}

TEST_CASE("Lookups ignore case, fall back to the domain, and miss cleanly", "[directory]") {
  auto directory = Directory::from_json(example());
  CHECK(directory->lookup("BOB@example.COM", Protocol::Imap)->pod == "pod-2");
  CHECK_FALSE(directory->lookup("bob@example.com", Protocol::Pop3)->protocol_enabled);
  CHECK(directory->lookup("bob@example.com", Protocol::Imap)->protocol_enabled);
  CHECK(directory->lookup("anyone@EXAMPLE.org", Protocol::Imap)->pod == "pod-2");
  CHECK_FALSE(directory->lookup("mallory@example.net", Protocol::Imap));
  CHECK_FALSE(directory->lookup("example.org", Protocol::Imap));
  CHECK_FALSE(directory->lookup("", Protocol::Imap));
}

TEST_CASE("Broken directories are refused with the reason", "[directory]") {
  auto broken = [](const char* patch_text) {
    json document = example();
    document.merge_patch(json::parse(patch_text));
    return document;
  };
  CHECK_THROWS_WITH(Directory::from_json(broken(R"({"users": {"x@y": {"pod": "pod-9"}}})")),
                    Catch::Contains("unknown pod \"pod-9\""));
  CHECK_THROWS_WITH(
      Directory::from_json(broken(R"({"pods": {"pod-3": {"imap": ["localhost:1"]}}})")),
      Catch::Contains("expected \"ip:port\""));
  CHECK_THROWS_WITH(Directory::from_json(broken(R"({"pods": {"pod-3": {"smtp_auth": "cram"}}})")),
                    Catch::Contains("smtp_auth"));
  CHECK_THROWS_WITH(Directory::from_json(broken(R"({"pods": {"pod-3": {"imapp": []}}})")),
                    Catch::Contains("unknown key \"imapp\""));
  CHECK_THROWS_WITH(
      Directory::from_json(broken(R"({"users": {"x@y": {"pod": "pod-1", "imap": "no"}}})")),
      Catch::Contains("true or false"));
  CHECK_THROWS_WITH(
      Directory::from_json(broken(R"({"users": {"ALICE@example.com": {"pod": "pod-1"}}})")),
      Catch::Contains("listed twice"));
  CHECK_THROWS_WITH(Directory::from_json(broken(R"({"users": {"x@y": {}}})")),
                    Catch::Contains("no \"pod\""));
  CHECK_THROWS_AS(Directory::from_json(json::array()), DirectoryError);
  CHECK_THROWS_WITH(Directory::load_file("/nonexistent/directory.json"),
                    Catch::Contains("/nonexistent/directory.json"));
}

TEST_CASE("Pods carry backend_tls, and only none is accepted for now", "[directory]") {
  json document = example();
  document["pods"]["pod-1"]["backend_tls"] = "none";
  auto directory = Directory::from_json(document);
  CHECK(directory->lookup("alice@example.com", Protocol::Imap)->backend_tls == "none");
  CHECK(directory->lookup("bob@example.com", Protocol::Imap)->backend_tls == "none");
  document["pods"]["pod-1"]["backend_tls"] = "implicit";
  CHECK(Directory::from_json(document)->lookup("alice@example.com", Protocol::Imap)->backend_tls ==
        "implicit");
  for (const char* value : {R"("starttls")", R"("TLS")", "true", "null"}) {
    document["pods"]["pod-1"]["backend_tls"] = json::parse(value);
    CHECK_THROWS_WITH(Directory::from_json(document),
                      Catch::Contains("backend_tls must be \"none\" or \"implicit\"") &&
                          Catch::Contains("pod \"pod-1\""));
  }
}

TEST_CASE("Wrong types anywhere in the directory are refused naming the entry", "[directory]") {
  auto broken = [](const char* patch_text) {
    json document = example();
    document.merge_patch(json::parse(patch_text));
    return document;
  };
  CHECK_THROWS_WITH(Directory::from_json(broken(R"({"pods": []})")),
                    Catch::Contains("\"pods\" must be a JSON object"));
  CHECK_THROWS_WITH(Directory::from_json(broken(R"({"users": "alice"})")),
                    Catch::Contains("\"users\" must be a JSON object"));
  CHECK_THROWS_WITH(Directory::from_json(broken(R"({"pods": {"pod-3": ["127.0.0.1:1"]}})")),
                    Catch::Contains("pod \"pod-3\" must be a JSON object"));
  CHECK_THROWS_WITH(Directory::from_json(broken(R"({"pods": {"pod-3": {"imap": "127.0.0.1:1"}}})")),
                    Catch::Contains("pod \"pod-3\": \"imap\" must be a list"));
  CHECK_THROWS_WITH(Directory::from_json(broken(R"({"pods": {"pod-3": {"pop3": [110]}}})")),
                    Catch::Contains("pod \"pod-3\": \"pop3\" has 110"));
  CHECK_THROWS_WITH(
      Directory::from_json(broken(R"({"pods": {"pod-3": {"smtp": ["127.0.0.1:99999"]}}})")),
      Catch::Contains("pod \"pod-3\""));
  CHECK_THROWS_WITH(Directory::from_json(broken(R"({"pods": {"pod-3": {"smtp_auth": 1}}})")),
                    Catch::Contains("pod \"pod-3\": \"smtp_auth\""));
  CHECK_THROWS_WITH(Directory::from_json(broken(R"({"users": {"x@y": "pod-1"}})")),
                    Catch::Contains("users entry \"x@y\" must be a JSON object"));
  CHECK_THROWS_WITH(Directory::from_json(broken(R"({"users": {"x@y": {"pod": 1}}})")),
                    Catch::Contains("users entry \"x@y\": \"pod\" must be a string"));
  CHECK_THROWS_WITH(
      Directory::from_json(broken(R"({"users": {"x@y": {"pod": "pod-1", "smtp": 0}}})")),
      Catch::Contains("users entry \"x@y\": \"smtp\" must be true or false"));
  CHECK_THROWS_WITH(
      Directory::from_json(broken(R"({"domains": {"example.net": {"pod": "gone"}}})")),
      Catch::Contains("domains entry \"example.net\" points to unknown pod \"gone\""));
  CHECK_THROWS_WITH(Directory::from_json(broken(R"({"domains": {"example.net": []}})")),
                    Catch::Contains("domains entry \"example.net\" must be a JSON object"));
  CHECK_THROWS_WITH(Directory::from_json(broken(R"({"groups": {}})")),
                    Catch::Contains("unknown top-level key \"groups\""));
}

TEST_CASE("Every server of every pod is listed once per pod for the health gauges", "[directory]") {
  auto directory = Directory::from_json(example());
  auto servers = directory->pod_servers();
  REQUIRE(servers.size() == 5);
  CHECK(servers[0].pod == "pod-1");
  CHECK(servers[0].protocol == Protocol::Imap);
  CHECK(servers[0].server.text == "127.0.0.1:20143");
  CHECK(servers.back().pod == "pod-2");
  CHECK(servers.back().protocol == Protocol::Smtp);
}

TEST_CASE("A directory file that is not JSON is refused with the parser's reason", "[directory]") {
  std::string path = "/tmp/podgate-test-directory-" + std::to_string(::getpid()) + ".json";
  {
    std::FILE* file = std::fopen(path.c_str(), "w");
    REQUIRE(file != nullptr);
    std::fputs("{\"pods\": {", file);
    std::fclose(file);
  }
  CHECK_THROWS_WITH(Directory::load_file(path), Catch::Contains("not valid JSON") &&
                                                    Catch::Contains("line 1") &&
                                                    !Catch::Contains("json.exception"));
  std::remove(path.c_str());
}

TEST_CASE("A domain's policy applies to its listed users too: off on either is off",
          "[directory][policy]") {
  auto directory = Directory::from_json(json::parse(R"({
    "pods": {"pod-1": {"imap": ["127.0.0.1:20143"], "pop3": ["127.0.0.1:20110"]}},
    "users": {
      "listed@modern.example": {"pod": "pod-1", "imap": true},
      "strict@open.example": {"pod": "pod-1", "basic_auth": false, "imap": false},
      "open@open.example": {"pod": "pod-1"}
    },
    "domains": {
      "modern.example": {"pod": "pod-1", "basic_auth": false, "pop3": false},
      "open.example": {"pod": "pod-1"}
    }
  })"));
  auto listed = directory->lookup("listed@modern.example", Protocol::Pop3);
  REQUIRE(listed);
  CHECK_FALSE(listed->basic_auth);
  CHECK_FALSE(listed->protocol_enabled);
  CHECK(directory->lookup("listed@modern.example", Protocol::Imap)->protocol_enabled);
  auto unlisted = directory->lookup("anyone@MODERN.example", Protocol::Imap);
  REQUIRE(unlisted);
  CHECK_FALSE(unlisted->basic_auth);
  CHECK(unlisted->protocol_enabled);
  CHECK_FALSE(directory->lookup("anyone@modern.example", Protocol::Pop3)->protocol_enabled);
  CHECK_FALSE(directory->lookup("strict@open.example", Protocol::Imap)->basic_auth);
  CHECK_FALSE(directory->lookup("strict@open.example", Protocol::Imap)->protocol_enabled);
  CHECK(directory->lookup("open@open.example", Protocol::Imap)->basic_auth);
  CHECK(directory->lookup("open@open.example", Protocol::Imap)->protocol_enabled);
  CHECK_THROWS_WITH(Directory::from_json(json::parse(R"({"pods": {"p": {}},
      "domains": {"d.example": {"pod": "p", "basic_auth": "no"}}})")),
                    "domains entry \"d.example\": \"basic_auth\" must be true or false");
}
