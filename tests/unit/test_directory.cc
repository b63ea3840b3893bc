#include <catch2/catch.hpp>

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
