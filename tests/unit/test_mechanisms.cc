#include <catch2/catch.hpp>

#include <vector>

#include "proxy/protocol/sasl/mechanisms.h"

namespace sasl = podgate::sasl;
using sasl::Mechanism;

TEST_CASE("Mechanisms are found by name in any case and named as registered", "[mechanisms]") {
  CHECK(sasl::mechanism_named("PLAIN") == Mechanism::Plain);
  CHECK(sasl::mechanism_named("login") == Mechanism::Login);
  CHECK_FALSE(sasl::mechanism_named("CRAM-MD5"));
  CHECK_FALSE(sasl::mechanism_named(""));
  CHECK_FALSE(sasl::mechanism_named("PLAIN "));
  for (Mechanism mechanism : sasl::all_mechanisms()) {
    CHECK(sasl::mechanism_named(sasl::to_string(mechanism)) == mechanism);
  }
  // What "basic_auth": false turns off.
  CHECK(sasl::carries_password(Mechanism::Plain));
  CHECK(sasl::carries_password(Mechanism::Login));
}

TEST_CASE("Every capability list is built from the listener's mechanisms", "[mechanisms]") {
  const std::vector<Mechanism> both{Mechanism::Login, Mechanism::Plain};
  CHECK(sasl::mechanism_list(both, "AUTH=", " ") == "AUTH=LOGIN AUTH=PLAIN");
  CHECK(sasl::mechanism_list(both, "", " ") == "LOGIN PLAIN");
  CHECK(sasl::mechanism_list(both, "", "\r\n") == "LOGIN\r\nPLAIN");
  CHECK(sasl::mechanism_list({Mechanism::Plain}, "AUTH=", " ") == "AUTH=PLAIN");
  CHECK(sasl::mechanism_list(sasl::default_mechanisms(), "", " ") == "PLAIN LOGIN");
}
