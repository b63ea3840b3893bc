#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "proxy/protocol/sasl/mechanisms.h"
#include "proxy/protocol/sasl/sasl.h"
#include "proxy/session/sasl_exchange.h"

using podgate::Secret;
using podgate::proxy::LoginOutcome;
using podgate::proxy::SaslExchange;
using Kind = SaslExchange::Step::Kind;
namespace sasl = podgate::sasl;

namespace {
const std::vector<sasl::Mechanism>& kOffered = sasl::default_mechanisms();

std::optional<Secret> response(std::string_view text) {
  return Secret(text);
}
Secret line(std::string_view text) {
  return Secret(text);
}
}  // namespace

TEST_CASE("PLAIN with and without an initial response", "[sasl_exchange]") {
  std::string message = sasl::base64_encode(sasl::make_plain("alice", "pass word"));
  SaslExchange with_ir;
  auto step = with_ir.start("PLAIN", kOffered, response(message));
  CHECK(step.kind == Kind::Credentials);
  CHECK(step.credentials.authcid == "alice");
  CHECK(step.credentials.secret == "pass word");

  SaslExchange without_ir;
  step = without_ir.start("PLAIN", kOffered, std::nullopt);
  CHECK(step.kind == Kind::Challenge);
  CHECK(step.challenge.empty());
  step = without_ir.respond(line(message));
  CHECK(step.kind == Kind::Credentials);
  CHECK(step.credentials.secret == "pass word");
}

TEST_CASE("LOGIN asks for the user, then the password", "[sasl_exchange]") {
  SaslExchange exchange;
  auto step = exchange.start("LOGIN", kOffered, std::nullopt);
  CHECK(step.kind == Kind::Challenge);
  CHECK(*sasl::base64_decode(step.challenge) == "Username:");
  step = exchange.respond(line(sasl::base64_encode("bob")));
  CHECK(*sasl::base64_decode(step.challenge) == "Password:");
  step = exchange.respond(line(sasl::base64_encode("secret")));
  CHECK(step.kind == Kind::Credentials);
  CHECK(step.credentials.authcid == "bob");
  CHECK(step.credentials.secret == "secret");

  SaslExchange with_ir;
  step = with_ir.start("LOGIN", kOffered, response(sasl::base64_encode("bob")));
  CHECK(*sasl::base64_decode(step.challenge) == "Password:");
}

TEST_CASE("Cancel, bad base64, foreign authzid and unknown mechanisms", "[sasl_exchange]") {
  auto failure = [](const SaslExchange::Step& step) {
    return step.kind == Kind::Failed ? std::optional<LoginOutcome>(step.failure) : std::nullopt;
  };
  SaslExchange exchange;
  exchange.start("PLAIN", kOffered, std::nullopt);
  CHECK(failure(exchange.respond(line("*"))) == LoginOutcome::Cancelled);
  exchange.start("PLAIN", kOffered, std::nullopt);
  CHECK(failure(exchange.respond(line("not base64!"))) == LoginOutcome::InvalidBase64);
  std::string foreign = sasl::base64_encode(std::string("admin\0alice\0pw", 14));
  auto refused = exchange.start("PLAIN", kOffered, response(foreign));
  CHECK(failure(refused) == LoginOutcome::MalformedCredentials);
  CHECK(refused.user == "alice");  // the refused attempt names its own user
  auto empty = exchange.start("PLAIN", kOffered, response("="));
  CHECK(failure(empty) == LoginOutcome::MalformedCredentials);
  CHECK(empty.user.empty());
  CHECK(failure(exchange.start("CRAM-MD5", kOffered, std::nullopt)) ==
        LoginOutcome::UnsupportedMechanism);
  // A new exchange forgets the last one's half-finished LOGIN.
  exchange.start("LOGIN", kOffered, std::nullopt);
  exchange.respond(line(sasl::base64_encode("bob")));
  CHECK(
      exchange.start("PLAIN", kOffered, response(sasl::base64_encode(sasl::make_plain("al", "pw"))))
          .credentials.authcid == "al");
}

TEST_CASE("A secret is wiped when moved from, and grows without losing bytes", "[secret]") {
  Secret a(std::string_view("short"));
  Secret b(std::move(a));
  CHECK(a.empty());  // NOLINT(bugprone-use-after-move): that is the point
  CHECK(b == "short");
  std::string source = "a password longer than the small-string buffer";
  Secret c(std::move(source));
  CHECK(source.empty());
  CHECK(c.size() == 46);
  for (int i = 0; i < 100; ++i) c.append("0123456789");
  CHECK(c.size() == 1046);
  CHECK(c.view().substr(0, 11) == "a password ");
  CHECK(c.view().substr(1036) == "0123456789");
  std::string text = "to wipe";
  podgate::wipe(text);
  CHECK(text.empty());
}

TEST_CASE("Erasing the front of a buffer leaves no copy in its capacity", "[secret]") {
  std::string buffer = "PASS hunter2-secret\r\nQUIT\r\n";
  buffer.reserve(64);
  const char* data = buffer.data();
  const std::size_t used = buffer.size();
  podgate::erase_front(buffer, 21);
  CHECK(buffer == "QUIT\r\n");
  CHECK(buffer.data() == data);  // the same storage, so the check below reads it
  // Every byte the buffer ever held: the rest after the kept six is zero.
  std::string_view storage(data, used);
  CHECK(storage.find("hunter2") == std::string_view::npos);
  CHECK(storage.substr(6).find_first_not_of('\0') == std::string_view::npos);
}

TEST_CASE("Only a mechanism the listener offers starts, named in any case", "[sasl_exchange]") {
  const std::vector<sasl::Mechanism> plain_only{sasl::Mechanism::Plain};
  SaslExchange exchange;
  auto refused = exchange.start("LOGIN", plain_only, std::nullopt);
  CHECK(refused.kind == Kind::Failed);
  CHECK(refused.failure == LoginOutcome::UnsupportedMechanism);
  auto unknown = exchange.start("CRAM-MD5", kOffered, std::nullopt);
  CHECK(unknown.failure == LoginOutcome::UnsupportedMechanism);
  auto step = exchange.start("plain", plain_only,
                             response(sasl::base64_encode(sasl::make_plain("al", "pw"))));
  REQUIRE(step.kind == Kind::Credentials);
  CHECK(step.credentials.authcid == "al");
}
