// Strict base64 and the SASL PLAIN message.
#include <catch2/catch.hpp>

#include <string>

#include "proxy/protocol/sasl/sasl.h"

using namespace std::string_literals;
using podgate::sasl::base64_decode;
using podgate::sasl::base64_encode;
using podgate::sasl::make_plain;
using podgate::sasl::parse_plain;

TEST_CASE("base64 test vectors of RFC 4648 section 10", "[sasl]") {
  const auto [bytes, text] = GENERATE(table<std::string, std::string>({
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  }));
  CHECK(base64_encode(bytes) == text);
  CHECK(base64_decode(text) == bytes);
}

TEST_CASE("base64 round-trips every byte value", "[sasl]") {
  std::string all_bytes;
  for (int byte = 0; byte < 256; ++byte) all_bytes.push_back(static_cast<char>(byte));
  const std::string text = base64_encode(all_bytes);
  CHECK(text.substr(0, 8) == "AAECAwQF");
  CHECK(text.substr(text.size() - 8) == "/P3+/w==");
  CHECK(base64_decode(text) == all_bytes);
}

TEST_CASE("base64 decodes the PLAIN example of RFC 4616", "[sasl]") {
  CHECK(base64_decode("AHRpbQB0YW5zdGFhZnRhbnN0YWFm") == "\0tim\0tanstaaftanstaaf"s);
}

TEST_CASE("malformed base64 is rejected", "[sasl]") {
  const auto [text, why] = GENERATE(table<std::string, std::string>({
      {"=", "the empty-response marker is the caller's business"},
      {"Zg", "padding is required"},
      {"Zg=", "length not a multiple of four"},
      {"Zm9vY", "length not a multiple of four"},
      {"Zg===", "too much padding"},
      {"====", "padding only"},
      {"Z===", "three padding characters"},
      {"Zg==Zg==", "padding before the end"},
      {"Zg=a", "padding inside a group"},
      {"Z=g=", "padding inside a group"},
      {"Zm 9", "whitespace"},
      {"Zm9v    ", "trailing whitespace"},
      {"Zm9v\r\nAA", "line break"},
      {"Zm9-", "URL alphabet"},
      {"Zm9_", "URL alphabet"},
      {"Zm9*", "not in the alphabet"},
      {"Zm\xC3\xA4", "8-bit bytes"},
      {"Zm9v\0\0\0\0"s, "NUL bytes"},
      {"Zh==", "non-zero bits under the padding"},
      {"Zm9=", "non-zero bits under the padding"},
  }));
  INFO(why);
  CHECK_FALSE(base64_decode(text).has_value());
}

TEST_CASE("PLAIN without and with an authorization identity", "[sasl]") {
  const auto plain = parse_plain("\0alice\0secret"s);
  REQUIRE(plain.has_value());
  CHECK(plain->authzid.empty());
  CHECK(plain->authcid == "alice");
  CHECK(plain->password == "secret");

  const auto with_authzid = parse_plain("admin\0alice\0p w \xC3\xA4"s);
  REQUIRE(with_authzid.has_value());
  CHECK(with_authzid->authzid == "admin");
  CHECK(with_authzid->authcid == "alice");
  CHECK(with_authzid->password == "p w \xC3\xA4");
}

TEST_CASE("malformed PLAIN is rejected", "[sasl]") {
  const std::string message = GENERATE(as<std::string>{}, "", "alice",
                                       "\0alice"s,            // one separator only
                                       "\0\0secret"s,         // empty authcid
                                       "\0alice\0"s,          // empty password
                                       "\0alice\0sec\0ret"s,  // NUL inside the password
                                       "\0\0"s);
  INFO(message.size());
  CHECK_FALSE(parse_plain(message).has_value());
}

TEST_CASE("make_plain builds what parse_plain reads", "[sasl]") {
  const std::string message = make_plain("alice", "secret");
  CHECK(message == "\0alice\0secret"s);
  CHECK(base64_encode(message) == "AGFsaWNlAHNlY3JldA==");
  const auto plain = parse_plain(message);
  REQUIRE(plain.has_value());
  CHECK(plain->authzid.empty());
  CHECK(plain->authcid == "alice");
  CHECK(plain->password == "secret");
}
