#include <catch2/catch.hpp>

#include "core/address.h"
#include "proxy/protection/address_key.h"

using podgate::core::parse_socket_address;
using podgate::core::SocketAddress;
using podgate::proxy::address_key;

namespace {

std::string key_of(const std::string& text) {
  auto address = parse_socket_address(text);
  REQUIRE(address);
  return address_key(*address);
}

}  // namespace

TEST_CASE("IPv4 clients are keyed by their address, without the port", "[address_key]") {
  CHECK(key_of("192.0.2.7:993") == "192.0.2.7");
  CHECK(key_of("192.0.2.7:40000") == "192.0.2.7");
  CHECK(key_of("127.0.0.1:1") != key_of("127.0.0.2:1"));
}

TEST_CASE("IPv4-mapped IPv6 clients are keyed as IPv4", "[address_key]") {
  CHECK(key_of("[::ffff:192.0.2.7]:993") == "192.0.2.7");
  CHECK(key_of("[::ffff:192.0.2.7]:993") == key_of("192.0.2.7:143"));
}

TEST_CASE("IPv6 clients are keyed by their /64", "[address_key]") {
  CHECK(key_of("[2001:db8:1:2::1]:993") == "2001:db8:1:2::/64");
  CHECK(key_of("[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:993") == "2001:db8:1:2::/64");
  CHECK(key_of("[2001:db8:1:3::1]:993") == "2001:db8:1:3::/64");
  CHECK(key_of("[::1]:143") == "::/64");
  // Not mistaken for IPv4: only ::ffff:0:0/96 is the mapped range.
  CHECK(key_of("[::192.0.2.7]:993") == "::/64");
}

TEST_CASE("Addresses of no IP family have an empty key", "[address_key]") {
  SocketAddress unset;
  CHECK(address_key(unset).empty());
}
