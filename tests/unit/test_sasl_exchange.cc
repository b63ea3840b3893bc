#include <catch2/catch.hpp>

#include "proxy/protocol/sasl/sasl.h"
#include "proxy/session/sasl_exchange.h"

using podgate::proxy::SaslExchange;
using Outcome = SaslExchange::Outcome;
namespace sasl = podgate::sasl;

TEST_CASE("PLAIN with and without an initial response", "[sasl_exchange]") {
  std::string message = sasl::base64_encode(sasl::make_plain("alice", "pass word"));
  SaslExchange with_ir;
  auto step = with_ir.start("PLAIN", message);
  CHECK(step.outcome == Outcome::Credentials);
  CHECK(step.user == "alice");
  CHECK(step.password == "pass word");

  SaslExchange without_ir;
  step = without_ir.start("PLAIN", std::nullopt);
  CHECK(step.outcome == Outcome::Challenge);
  CHECK(step.challenge.empty());
  step = without_ir.respond(message);
  CHECK(step.outcome == Outcome::Credentials);
  CHECK(step.password == "pass word");
}

TEST_CASE("LOGIN asks for the user, then the password", "[sasl_exchange]") {
  SaslExchange exchange;
  auto step = exchange.start("LOGIN", std::nullopt);
  CHECK(step.outcome == Outcome::Challenge);
  CHECK(*sasl::base64_decode(step.challenge) == "Username:");
  step = exchange.respond(sasl::base64_encode("bob"));
  CHECK(*sasl::base64_decode(step.challenge) == "Password:");
  step = exchange.respond(sasl::base64_encode("secret"));
  CHECK(step.outcome == Outcome::Credentials);
  CHECK(step.user == "bob");
  CHECK(step.password == "secret");

  SaslExchange with_ir;
  step = with_ir.start("LOGIN", sasl::base64_encode("bob"));
  CHECK(*sasl::base64_decode(step.challenge) == "Password:");
}

TEST_CASE("Cancel, bad base64, foreign authzid and unknown mechanisms", "[sasl_exchange]") {
  SaslExchange exchange;
  exchange.start("PLAIN", std::nullopt);
  CHECK(exchange.respond("*").outcome == Outcome::Cancelled);
  exchange.start("PLAIN", std::nullopt);
  CHECK(exchange.respond("not base64!").outcome == Outcome::BadBase64);
  std::string foreign = sasl::base64_encode(std::string("admin\0alice\0pw", 14));
  CHECK(exchange.start("PLAIN", foreign).outcome == Outcome::Refused);
  CHECK(exchange.start("PLAIN", std::string("=")).outcome == Outcome::Refused);
  CHECK(exchange.start("CRAM-MD5", std::nullopt).outcome == Outcome::Unsupported);
  // A new exchange forgets the last one's half-finished LOGIN.
  exchange.start("LOGIN", std::nullopt);
  exchange.respond(sasl::base64_encode("bob"));
  CHECK(exchange.start("PLAIN", sasl::base64_encode(sasl::make_plain("al", "pw"))).user == "al");
}
