#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "backend-directory/lookup_answer.h"

using nlohmann::json;
using podgate::directory::decode_lookup_answer;
using podgate::directory::DirectoryError;
using podgate::directory::encode_lookup_answer;
using podgate::directory::Protocol;
using podgate::directory::Route;
using podgate::directory::Server;

namespace {

Route example_route() {
  Route route;
  route.pod = "pod-1";
  route.servers.push_back(
      Server{"127.0.0.1:20143", *podgate::core::parse_socket_address("127.0.0.1:20143")});
  route.servers.push_back(
      Server{"[::1]:20144", *podgate::core::parse_socket_address("[::1]:20144")});
  route.smtp_auth = "login";
  return route;
}

json good_answer() {
  return json::parse(R"({"user": "alice@example.com", "protocol": "imap", "pod": "pod-1",
    "enabled": true, "servers": ["127.0.0.1:20143"], "backend_tls": "none",
    "smtp_auth": "plain", "ttl": 30})");
}

}  // namespace

TEST_CASE("Lookup answers are encoded in the documented shape", "[lookup_answer]") {
  json answer = encode_lookup_answer("Alice@example.com", Protocol::Imap, example_route(), 30);
  CHECK(answer == json::parse(R"({"user": "Alice@example.com", "protocol": "imap",
    "pod": "pod-1", "enabled": true, "basic_auth": true, "servers": ["127.0.0.1:20143", "[::1]:20144"],
    "backend_tls": "none", "smtp_auth": "login", "ttl": 30})"));

  Route empty = example_route();
  empty.servers.clear();
  empty.protocol_enabled = false;
  json no_server = encode_lookup_answer("bob", Protocol::Pop3, empty, 5);
  CHECK(no_server["servers"] == json::array());
  CHECK(no_server["error"] == "no server available");
  CHECK(no_server["enabled"] == false);
  CHECK(no_server["protocol"] == "pop3");
  CHECK(no_server["ttl"] == 0);  // ask again soon: the pod may be back
}

TEST_CASE("Lookup answers survive an encode and decode round trip", "[lookup_answer]") {
  auto decoded =
      decode_lookup_answer(encode_lookup_answer("a@b", Protocol::Smtp, example_route(), 7));
  CHECK(decoded.ttl_seconds == 7);
  CHECK(decoded.route.pod == "pod-1");
  CHECK(decoded.route.protocol_enabled);
  CHECK(decoded.route.smtp_auth == "login");
  CHECK(decoded.route.backend_tls == "none");
  REQUIRE(decoded.route.servers.size() == 2);
  CHECK(decoded.route.servers[0].text == "127.0.0.1:20143");
  CHECK(decoded.route.servers[1].address.port() == 20144);
  CHECK(decoded.route.servers[1].address.ip() == "::1");
}

TEST_CASE("Lookup answers without the optional fields get the model defaults", "[lookup_answer]") {
  json body = good_answer();
  body.erase("backend_tls");
  body.erase("smtp_auth");
  body.erase("user");
  body.erase("protocol");
  body["servers"] = json::array();
  body["error"] = "no server available";
  auto decoded = decode_lookup_answer(body);
  CHECK(decoded.route.backend_tls == "none");
  CHECK(decoded.route.smtp_auth == "plain");
  CHECK(decoded.route.basic_auth);  // as from services before tenant policies
  CHECK(decoded.route.servers.empty());
  CHECK(decoded.ttl_seconds == 30);
}

TEST_CASE("A lookup answer carries the tenant's basic_auth policy", "[lookup_answer][policy]") {
  Route modern = example_route();
  modern.basic_auth = false;
  json encoded = encode_lookup_answer("a@modern.example", Protocol::Imap, modern, 7);
  CHECK(encoded["basic_auth"] == false);
  CHECK_FALSE(decode_lookup_answer(encoded).route.basic_auth);
  encoded["basic_auth"] = "false";
  CHECK_THROWS_WITH(decode_lookup_answer(encoded),
                    "lookup answer: \"basic_auth\" must be true or false");
}

TEST_CASE("Malformed lookup answers are refused naming the field", "[lookup_answer]") {
  auto with = [](const char* key, json value) {
    json body = good_answer();
    body[key] = std::move(value);
    return body;
  };
  auto without = [](const char* key) {
    json body = good_answer();
    body.erase(key);
    return body;
  };
  CHECK_THROWS_AS(decode_lookup_answer(json::array()), DirectoryError);
  CHECK_THROWS_WITH(decode_lookup_answer(without("pod")), Catch::Contains("\"pod\""));
  CHECK_THROWS_WITH(decode_lookup_answer(with("pod", 3)), Catch::Contains("\"pod\""));
  CHECK_THROWS_WITH(decode_lookup_answer(with("pod", "")), Catch::Contains("\"pod\""));
  CHECK_THROWS_WITH(decode_lookup_answer(without("enabled")), Catch::Contains("\"enabled\""));
  CHECK_THROWS_WITH(decode_lookup_answer(with("enabled", "yes")), Catch::Contains("\"enabled\""));
  CHECK_THROWS_WITH(decode_lookup_answer(without("servers")), Catch::Contains("\"servers\""));
  CHECK_THROWS_WITH(decode_lookup_answer(with("servers", "127.0.0.1:1")),
                    Catch::Contains("\"servers\""));
  CHECK_THROWS_WITH(decode_lookup_answer(with("servers", json::array({"localhost:143"}))),
                    Catch::Contains("localhost:143"));
  CHECK_THROWS_WITH(decode_lookup_answer(with("servers", json::array({143}))),
                    Catch::Contains("\"servers\""));
  CHECK_THROWS_WITH(decode_lookup_answer(with("smtp_auth", "cram-md5")),
                    Catch::Contains("\"smtp_auth\""));
  CHECK_THROWS_WITH(decode_lookup_answer(with("backend_tls", false)),
                    Catch::Contains("\"backend_tls\""));
  CHECK_THROWS_WITH(decode_lookup_answer(without("ttl")), Catch::Contains("\"ttl\""));
  CHECK_THROWS_WITH(decode_lookup_answer(with("ttl", -1)), Catch::Contains("\"ttl\""));
  CHECK_THROWS_WITH(decode_lookup_answer(with("ttl", 1.5)), Catch::Contains("\"ttl\""));
  CHECK_THROWS_WITH(decode_lookup_answer(with("ttl", 5000000000LL)), Catch::Contains("\"ttl\""));
  // A TLS mode podgate cannot speak would send passwords in clear text.
  CHECK_THROWS_WITH(decode_lookup_answer(with("backend_tls", "starttls")),
                    Catch::Contains("not supported"));
}
