#include <catch2/catch.hpp>

#include "core/address.h"

using podgate::core::parse_socket_address;

TEST_CASE("Socket addresses parse and print", "[address]") {
  auto v4 = parse_socket_address("127.0.0.1:993");
  REQUIRE(v4);
  CHECK(v4->ip() == "127.0.0.1");
  CHECK(v4->port() == 993);
  CHECK(v4->text() == "127.0.0.1:993");
  auto v6 = parse_socket_address("[::1]:143");
  REQUIRE(v6);
  CHECK(v6->text() == "[::1]:143");
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "::1:143",
                          "localhost:143", "[::1]143", "127.0.0.1:14x", "1.2.3.4:-1"}) {
    INFO(bad);
    CHECK_FALSE(parse_socket_address(bad));
  }
}

TEST_CASE("IPv6 hosts are bracketed before a port, IPv4 hosts are not", "[address]") {
  using podgate::core::bracketed_host;
  CHECK(bracketed_host("::1") == "[::1]");
  CHECK(bracketed_host("127.0.0.1") == "127.0.0.1");
  CHECK(parse_socket_address(bracketed_host("fe80::2") + ":143"));
}
