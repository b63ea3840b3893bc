// The pre-auth SMTP submission parser. Nearly every input goes through
// parse_everywhere(): parsed whole, then split in two at every offset, one
// byte at a time and three ways; every run must give the same events (and
// hand the pod the same bytes) as the whole parse.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/protocol/sasl/sasl.h"
#include "proxy/protocol/smtp/smtp_parser.h"

namespace {

using namespace std::string_literals;
using podgate::smtp::Command;
using podgate::smtp::CommandKind;
using podgate::smtp::ErrorKind;
using podgate::smtp::Event;
using podgate::smtp::Parser;
using Type = Event::Type;

struct Options {
  std::size_t max_line_bytes = Parser::kDefaultMaxLineBytes;
  // After a completed AUTH the session logs in and hands whatever follows to
  // the pod (take_unparsed()).
  bool hand_over_at_login = false;
  // After STARTTLS the session drops buffered plaintext and switches to TLS:
  // nothing the client sends afterwards reaches this parser as plaintext.
  bool tls_at_starttls = false;
};

// What a run produced: the events, and the bytes handed to the pod.
struct Outcome {
  std::vector<Event> events;
  std::string forwarded;
};

// Plays the session's part between events: after AUTH it asks for SASL lines
// until the mechanism has had its say (PLAIN one line, LOGIN two, an initial
// response counting as the first) or the client cancels with "*"; it logs in
// and switches to TLS as Options ask.
class FakeSession {
 public:
  enum class Phase { PreAuth, LoggedIn, Tls };

  explicit FakeSession(const Options& options) : options_(options) {}

  void on_event(Parser& parser, const Event& event) {
    if (event.type == Type::SaslResponse) {
      if (event.sasl_line == "*") {
        lines_wanted_ = 0;
      } else if (--lines_wanted_ == 0) {
        log_in(parser);
      }
    } else if (event.type != Type::Command) {
      return;
    } else if (event.command.kind == CommandKind::Auth) {
      lines_wanted_ = event.command.mechanism == "LOGIN" ? 2 : 1;
      if (event.command.initial_response) --lines_wanted_;
      if (lines_wanted_ == 0) log_in(parser);
    } else if (event.command.kind == CommandKind::StartTls && options_.tls_at_starttls) {
      parser.discard_buffered();
      CHECK(parser.buffered_bytes() == 0);
      phase_ = Phase::Tls;
    }
    if (lines_wanted_ > 0) parser.expect_sasl_response();
  }

  Phase phase() const { return phase_; }
  std::string& forwarded() { return forwarded_; }

 private:
  void log_in(Parser& parser) {
    if (!options_.hand_over_at_login) return;
    forwarded_ = parser.take_unparsed();
    CHECK(parser.buffered_bytes() == 0);
    phase_ = Phase::LoggedIn;
  }

  const Options& options_;
  Phase phase_ = Phase::PreAuth;
  std::size_t lines_wanted_ = 0;
  std::string forwarded_;
};

// Feeds the chunks in order, draining next() after each, as a session would.
Outcome parse_chunks(const std::vector<std::string_view>& chunks, const Options& options) {
  Parser parser(options.max_line_bytes);
  FakeSession session(options);
  Outcome outcome;
  for (std::string_view chunk : chunks) {
    if (session.phase() == FakeSession::Phase::LoggedIn) {
      session.forwarded().append(chunk);
      continue;
    }
    if (session.phase() == FakeSession::Phase::Tls) continue;
    parser.feed(chunk);
    for (Event event = parser.next(); event.type != Type::NeedMore; event = parser.next()) {
      session.on_event(parser, event);
      outcome.events.push_back(std::move(event));
    }
    CHECK(parser.buffered_bytes() <= options.max_line_bytes);
  }
  outcome.forwarded = std::move(session.forwarded());
  return outcome;
}

std::string describe(const Event& event) {
  switch (event.type) {
    case Type::NeedMore:
      return "need more";
    case Type::SaslResponse:
      return "sasl [" + std::string(event.sasl_line.view()) + "]";
    case Type::Error:
      return "error " + std::to_string(static_cast<int>(event.error.kind)) + " " +
             event.error.message;
    case Type::Command:
      break;
  }
  const Command& command = event.command;
  return "command name [" + command.name + "] kind " +
         std::to_string(static_cast<int>(command.kind)) + " argument [" + command.argument +
         "] mechanism [" + command.mechanism + "] ir " +
         (command.initial_response ? "[" + std::string(command.initial_response->view()) + "]"
                                   : "none");
}

std::vector<std::string> describe_all(const Outcome& outcome) {
  std::vector<std::string> descriptions;
  for (const Event& event : outcome.events) descriptions.push_back(describe(event));
  descriptions.push_back("forwarded [" + outcome.forwarded + "]");
  return descriptions;
}

// Returns the outcome of the whole-buffer parse after checking that every
// other way of splitting `input` gives the same one.
Outcome parse_everywhere(std::string_view input, const Options& options = {}) {
  Outcome whole = parse_chunks({input}, options);
  const std::vector<std::string> expected = describe_all(whole);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    INFO("split at " << cut);
    CHECK(describe_all(parse_chunks({input.substr(0, cut), input.substr(cut)}, options)) ==
          expected);
  }
  std::vector<std::string_view> single_bytes;
  for (std::size_t i = 0; i < input.size(); ++i) single_bytes.push_back(input.substr(i, 1));
  INFO("one byte at a time");
  CHECK(describe_all(parse_chunks(single_bytes, options)) == expected);
  const std::size_t size = input.size();
  const std::pair<std::size_t, std::size_t> three_way_cuts[] = {
      {1, size > 1 ? size - 1 : size}, {size / 3, 2 * size / 3}, {size / 2, size / 2 + 1}};
  for (auto [first, second] : three_way_cuts) {
    first = std::min(first, size);
    second = std::min(second, size);
    INFO("split at " << first << " and " << second);
    CHECK(describe_all(parse_chunks(
              {input.substr(0, first), input.substr(first, second - first), input.substr(second)},
              options)) == expected);
  }
  return whole;
}

std::vector<Event> events_everywhere(std::string_view input, const Options& options = {}) {
  return parse_everywhere(input, options).events;
}

void check_command(const Event& event, CommandKind kind, std::string_view name,
                   std::string_view argument = "") {
  INFO(describe(event));
  REQUIRE(event.type == Type::Command);
  CHECK(event.command.kind == kind);
  CHECK(event.command.name == name);
  CHECK(event.command.argument == argument);
  if (kind != CommandKind::Auth) {
    CHECK(event.command.mechanism.empty());
    CHECK_FALSE(event.command.initial_response.has_value());
  }
}

void check_auth(const Event& event, std::string_view mechanism,
                const std::optional<std::string>& initial_response = std::nullopt) {
  check_command(event, CommandKind::Auth, "AUTH");
  CHECK(event.command.mechanism == mechanism);
  CHECK(event.command.initial_response == initial_response);
}

void check_error(const Event& event, ErrorKind kind) {
  INFO(describe(event));
  REQUIRE(event.type == Type::Error);
  CHECK(event.error.kind == kind);
  CHECK(event.error.fatal() == (kind == ErrorKind::LineTooLong));
  CHECK_FALSE(event.error.message.empty());
}

void check_sasl_line(const Event& event, std::string_view line) {
  INFO(describe(event));
  REQUIRE(event.type == Type::SaslResponse);
  CHECK(event.sasl_line == line);
}

// What the session would get from a PLAIN response: authcid and password.
std::pair<std::string, std::string> decode_plain(std::string_view base64) {
  const std::optional<std::string> decoded = podgate::sasl::base64_decode(base64);
  REQUIRE(decoded.has_value());
  const auto credentials = podgate::sasl::parse_plain(*decoded);
  REQUIRE(credentials.has_value());
  CHECK(credentials->authzid.empty());
  return {credentials->authcid, std::string(credentials->password.view())};
}

std::string decode(std::string_view base64) {
  const std::optional<std::string> decoded = podgate::sasl::base64_decode(base64);
  REQUIRE(decoded.has_value());
  return *decoded;
}

// A bad command must cost exactly one 5xx: the command after it still runs.
void check_bad_then_noop(const std::string& bad_command) {
  INFO(bad_command);
  const auto events = events_everywhere(bad_command + "NOOP\r\n");
  REQUIRE(events.size() == 2);
  check_error(events[0], ErrorKind::BadSyntax);
  check_command(events[1], CommandKind::Noop, "NOOP");
}

std::string repeated(char c, std::size_t count) {
  return std::string(count, c);
}

using Credentials = std::pair<std::string, std::string>;

// base64 of "\0alice\0secret" and of "\0j\xC3\xBCrgen\0pa ss w\xC3\xB6rd".
constexpr std::string_view kPlainAlice = "AGFsaWNlAHNlY3JldA==";
const std::string kPlainJuergen =
    podgate::sasl::base64_encode(podgate::sasl::make_plain("j\xC3\xBCrgen", "pa ss w\xC3\xB6rd"));

}  // namespace

TEST_CASE("SMTP parser: SMTP parser: every known command", "[smtp]") {
  const auto events = events_everywhere(
      "EHLO client.example.org\r\nHELO client.example.org\r\nSTARTTLS\r\nAUTH PLAIN\r\n" +
      std::string(kPlainAlice) +
      "\r\nRSET\r\nNOOP\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nBDAT 12 LAST\r\nQUIT\r\n");
  REQUIRE(events.size() == 12);
  check_command(events[0], CommandKind::Ehlo, "EHLO", "client.example.org");
  check_command(events[1], CommandKind::Helo, "HELO", "client.example.org");
  check_command(events[2], CommandKind::StartTls, "STARTTLS");
  check_auth(events[3], "PLAIN");
  check_sasl_line(events[4], kPlainAlice);
  CHECK(decode_plain(events[4].sasl_line.view()) == Credentials{"alice", "secret"});
  check_command(events[5], CommandKind::Rset, "RSET");
  check_command(events[6], CommandKind::Noop, "NOOP");
  check_command(events[7], CommandKind::Mail, "MAIL", "FROM:<a@b>");
  check_command(events[8], CommandKind::Rcpt, "RCPT", "TO:<c@d>");
  check_command(events[9], CommandKind::Data, "DATA");
  check_command(events[10], CommandKind::Bdat, "BDAT", "12 LAST");
  check_command(events[11], CommandKind::Quit, "QUIT");
}

TEST_CASE("SMTP parser: SMTP parser: EHLO and HELO take a domain or an address literal", "[smtp]") {
  const std::string longest = repeated('d', 255);
  const auto events = events_everywhere(
      "EHLO [192.0.2.1]\r\nEHLO [IPv6:2001:db8::1]\r\nHELO localhost\r\n"
      "EHLO DESKTOP-AB_12\r\nEHLO " +
      longest + "\r\n");
  REQUIRE(events.size() == 5);
  check_command(events[0], CommandKind::Ehlo, "EHLO", "[192.0.2.1]");
  check_command(events[1], CommandKind::Ehlo, "EHLO", "[IPv6:2001:db8::1]");
  check_command(events[2], CommandKind::Helo, "HELO", "localhost");
  check_command(events[3], CommandKind::Ehlo, "EHLO", "DESKTOP-AB_12");
  check_command(events[4], CommandKind::Ehlo, "EHLO", longest);
}

TEST_CASE("SMTP parser: SMTP parser: verbs are case-insensitive, arguments keep their case",
          "[smtp]") {
  const auto events = events_everywhere(
      "ehlo Client.Example\r\nmail from:<Alice@Example.org>\r\nRcpt To:<Bob@X>\r\ndata\r\n"
      "StartTls\r\nauth plain =\r\nnoop\r\nrset\r\nbdat 10 last\r\nquit\r\nhelo X\r\n");
  REQUIRE(events.size() == 11);
  check_command(events[0], CommandKind::Ehlo, "EHLO", "Client.Example");
  check_command(events[1], CommandKind::Mail, "MAIL", "from:<Alice@Example.org>");
  check_command(events[2], CommandKind::Rcpt, "RCPT", "To:<Bob@X>");
  check_command(events[3], CommandKind::Data, "DATA");
  check_command(events[4], CommandKind::StartTls, "STARTTLS");
  check_auth(events[5], "PLAIN", "=");
  check_command(events[6], CommandKind::Noop, "NOOP");
  check_command(events[7], CommandKind::Rset, "RSET");
  check_command(events[8], CommandKind::Bdat, "BDAT", "10 last");
  check_command(events[9], CommandKind::Quit, "QUIT");
  check_command(events[10], CommandKind::Helo, "HELO", "X");
}

TEST_CASE("SMTP parser: SMTP parser: a bare LF ends a line like CRLF", "[smtp]") {
  const auto events = events_everywhere("EHLO c\nAUTH PLAIN\n" + std::string(kPlainAlice) +
                                        "\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\r\nDATA\nQUIT\r\n");
  REQUIRE(events.size() == 7);
  check_command(events[0], CommandKind::Ehlo, "EHLO", "c");
  check_auth(events[1], "PLAIN");
  check_sasl_line(events[2], kPlainAlice);
  check_command(events[3], CommandKind::Mail, "MAIL", "FROM:<a@b>");
  check_command(events[4], CommandKind::Rcpt, "RCPT", "TO:<c@d>");
  check_command(events[5], CommandKind::Data, "DATA");
  check_command(events[6], CommandKind::Quit, "QUIT");
}

TEST_CASE("SMTP parser: SMTP parser: MAIL and RCPT keep paths and parameters as sent", "[smtp]") {
  const auto events = events_everywhere(
      "MAIL FROM:<a@b> SIZE=100 BODY=8BITMIME\r\nMAIL FROM:<>\r\nMAIL FROM: <a@b>\r\n"
      "RCPT TO:<c@d> NOTIFY=NEVER\r\nRCPT TO:<Postmaster>\r\n"
      "MAIL FROM:<j\xC3\xBCrgen@example.org> SMTPUTF8\r\nRCPT TO:<\"a b\"@c>\r\n");
  REQUIRE(events.size() == 7);
  check_command(events[0], CommandKind::Mail, "MAIL", "FROM:<a@b> SIZE=100 BODY=8BITMIME");
  check_command(events[1], CommandKind::Mail, "MAIL", "FROM:<>");
  check_command(events[2], CommandKind::Mail, "MAIL", "FROM: <a@b>");
  check_command(events[3], CommandKind::Rcpt, "RCPT", "TO:<c@d> NOTIFY=NEVER");
  check_command(events[4], CommandKind::Rcpt, "RCPT", "TO:<Postmaster>");
  check_command(events[5], CommandKind::Mail, "MAIL", "FROM:<j\xC3\xBCrgen@example.org> SMTPUTF8");
  check_command(events[6], CommandKind::Rcpt, "RCPT", "TO:<\"a b\"@c>");
}

TEST_CASE("SMTP parser: SMTP parser: MAIL needs FROM: and RCPT needs TO:, each with a path",
          "[smtp]") {
  const std::string bad_command =
      GENERATE(as<std::string>{}, "MAIL\r\n", "MAIL \r\n", "MAIL <a@b>\r\n", "MAIL TO:<a@b>\r\n",
               "MAIL FROM:\r\n", "MAIL FROM <a@b>\r\n", "MAIL  FROM:<a@b>\r\n",
               "MAIL FRO:<a@b>\r\n", "MAILFROM:<a@b>\r\n", "RCPT\r\n", "RCPT \r\n", "RCPT TO:\r\n",
               "RCPT FROM:<a@b>\r\n", "RCPT <c@d>\r\n", "RCPT TO <c@d>\r\n", "RCPT  TO:<c@d>\r\n");
  check_bad_then_noop(bad_command);
}

TEST_CASE("SMTP parser: SMTP parser: EHLO and HELO need exactly one printable ASCII name",
          "[smtp]") {
  const std::string bad_command = GENERATE(
      as<std::string>{}, "EHLO\r\n", "EHLO \r\n", "EHLO a b\r\n", "EHLO  a\r\n", "EHLO a \r\n",
      "HELO\r\n", "HELO \r\n", "HELO a b\r\n", "EHLO a\tb\r\n", "EHLO a\x7f\r\n", "EHLO a\x1b\r\n",
      "EHLO j\xC3\xBC.example\r\n", "EHLO " + repeated('d', 256) + "\r\n");
  check_bad_then_noop(bad_command);
}

TEST_CASE("SMTP parser: SMTP parser: commands without arguments refuse them", "[smtp]") {
  const std::string bad_command =
      GENERATE(as<std::string>{}, "STARTTLS x\r\n", "STARTTLS \r\n", "RSET x\r\n", "RSET \r\n",
               "DATA x\r\n", "DATA \r\n", "QUIT now\r\n", "QUIT \r\n", "NOOP \r\n");
  check_bad_then_noop(bad_command);
}

TEST_CASE("SMTP parser: SMTP parser: NOOP may carry a string", "[smtp]") {
  const auto events = events_everywhere("NOOP\r\nNOOP hello world\r\nnoop  x \r\n");
  REQUIRE(events.size() == 3);
  check_command(events[0], CommandKind::Noop, "NOOP");
  check_command(events[1], CommandKind::Noop, "NOOP", "hello world");
  check_command(events[2], CommandKind::Noop, "NOOP", " x ");
}

TEST_CASE("SMTP parser: SMTP parser: BDAT takes a chunk size and an optional LAST", "[smtp]") {
  const auto events = events_everywhere("BDAT 100\r\nBDAT 0 LAST\r\nbdat 5 Last\r\n");
  REQUIRE(events.size() == 3);
  check_command(events[0], CommandKind::Bdat, "BDAT", "100");
  check_command(events[1], CommandKind::Bdat, "BDAT", "0 LAST");
  check_command(events[2], CommandKind::Bdat, "BDAT", "5 Last");
}

TEST_CASE("SMTP parser: SMTP parser: malformed BDAT", "[smtp]") {
  const std::string bad_command = GENERATE(
      as<std::string>{}, "BDAT\r\n", "BDAT \r\n", "BDAT x\r\n", "BDAT -1\r\n", "BDAT 10 \r\n",
      "BDAT  10\r\n", "BDAT 10 NOTLAST\r\n", "BDAT 10 LAST extra\r\n", "BDAT LAST\r\n");
  check_bad_then_noop(bad_command);
}

TEST_CASE("SMTP parser: SMTP parser: pipelined EHLO, AUTH, MAIL, RCPT and DATA in one buffer",
          "[smtp]") {
  const auto events =
      events_everywhere("EHLO client.example.org\r\nAUTH PLAIN " + std::string(kPlainAlice) +
                        "\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
  REQUIRE(events.size() == 5);
  check_command(events[0], CommandKind::Ehlo, "EHLO", "client.example.org");
  check_auth(events[1], "PLAIN", std::string(kPlainAlice));
  CHECK(decode_plain(events[1].command.initial_response->view()) == Credentials{"alice", "secret"});
  check_command(events[2], CommandKind::Mail, "MAIL", "FROM:<a@b>");
  check_command(events[3], CommandKind::Rcpt, "RCPT", "TO:<c@d>");
  check_command(events[4], CommandKind::Data, "DATA");
}

TEST_CASE(
    "SMTP parser: SMTP parser: AUTH PLAIN without initial response reads the next line as SASL",
    "[smtp]") {
  const auto events =
      events_everywhere("AUTH PLAIN\r\n" + std::string(kPlainAlice) + "\r\nAUTH plain\r\n" +
                        kPlainJuergen + "\r\nAUTH PLAIN\r\n*\r\nNOOP\r\n");
  REQUIRE(events.size() == 7);
  check_auth(events[0], "PLAIN");
  check_sasl_line(events[1], kPlainAlice);
  CHECK(decode_plain(events[1].sasl_line.view()) == Credentials{"alice", "secret"});
  check_auth(events[2], "PLAIN");
  check_sasl_line(events[3], kPlainJuergen);
  CHECK(decode_plain(events[3].sasl_line.view()) ==
        Credentials{"j\xC3\xBCrgen", "pa ss w\xC3\xB6rd"});
  check_auth(events[4], "PLAIN");
  check_sasl_line(events[5], "*");
  check_command(events[6], CommandKind::Noop, "NOOP");
}

TEST_CASE("SMTP parser: SMTP parser: AUTH PLAIN with an initial response returns it as sent",
          "[smtp]") {
  const auto events =
      events_everywhere("AUTH PLAIN " + std::string(kPlainAlice) + "\r\nauth Plain " +
                        kPlainJuergen + "\r\nAUTH PLAIN =\r\nNOOP\r\n");
  REQUIRE(events.size() == 4);
  check_auth(events[0], "PLAIN", std::string(kPlainAlice));
  CHECK(decode_plain(events[0].command.initial_response->view()) == Credentials{"alice", "secret"});
  check_auth(events[1], "PLAIN", kPlainJuergen);
  CHECK(decode_plain(events[1].command.initial_response->view()) ==
        Credentials{"j\xC3\xBCrgen", "pa ss w\xC3\xB6rd"});
  check_auth(events[2], "PLAIN", "=");
  check_command(events[3], CommandKind::Noop, "NOOP");
}

TEST_CASE(
    "SMTP parser: SMTP parser: AUTH LOGIN in two steps, with or without initial response, or "
    "cancelled",
    "[smtp]") {
  const auto events = events_everywhere(
      "AUTH LOGIN\r\ndXNlcg==\r\ncGEgc3M=\r\n"
      "AUTH LOGIN dXNlcg==\r\ncGEgc3M=\r\n"
      "AUTH LOGIN\r\n*\r\n"
      "AUTH LOGIN\r\ndXNlcg==\r\n*\r\n"
      "NOOP\r\n");
  REQUIRE(events.size() == 11);
  check_auth(events[0], "LOGIN");
  check_sasl_line(events[1], "dXNlcg==");
  CHECK(decode(events[1].sasl_line.view()) == "user");
  check_sasl_line(events[2], "cGEgc3M=");
  CHECK(decode(events[2].sasl_line.view()) == "pa ss");
  check_auth(events[3], "LOGIN", "dXNlcg==");
  CHECK(decode(events[3].command.initial_response->view()) == "user");
  check_sasl_line(events[4], "cGEgc3M=");
  check_auth(events[5], "LOGIN");
  check_sasl_line(events[6], "*");
  check_auth(events[7], "LOGIN");
  check_sasl_line(events[8], "dXNlcg==");
  check_sasl_line(events[9], "*");
  check_command(events[10], CommandKind::Noop, "NOOP");
}

TEST_CASE(
    "SMTP parser: SMTP parser: a SASL line is never parsed as a command and comes back as sent",
    "[smtp]") {
  const auto events = events_everywhere(
      "AUTH PLAIN\r\nQUIT\r\n"
      "AUTH PLAIN\r\nMAIL FROM:<a@b>\r\n"
      "AUTH PLAIN\n\n"
      "AUTH PLAIN\r\n  x y \r\n"
      "AUTH PLAIN\r\nA\0B\r\n"
      "NOOP\n"s);
  REQUIRE(events.size() == 11);
  check_auth(events[0], "PLAIN");
  check_sasl_line(events[1], "QUIT");
  check_auth(events[2], "PLAIN");
  check_sasl_line(events[3], "MAIL FROM:<a@b>");
  check_auth(events[4], "PLAIN");
  check_sasl_line(events[5], "");
  check_auth(events[6], "PLAIN");
  check_sasl_line(events[7], "  x y ");
  // Unchecked here: the session's strict base64 decoding refuses it.
  check_auth(events[8], "PLAIN");
  check_sasl_line(events[9], "A\0B"s);
  CHECK_FALSE(podgate::sasl::base64_decode(events[9].sasl_line.view()).has_value());
  check_command(events[10], CommandKind::Noop, "NOOP");
}

TEST_CASE("SMTP parser: SMTP parser: AUTH mechanism names follow RFC 4422", "[smtp]") {
  const std::string longest = repeated('M', 20);
  const auto events = events_everywhere(
      "AUTH scram-sha-256 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlx\r\n"
      "AUTH X_OAUTH2 =\r\nAUTH " +
      longest + " AA==\r\nAUTH CRAM-MD5\r\n");
  REQUIRE(events.size() == 4);
  check_auth(events[0], "SCRAM-SHA-256", "biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlx");
  check_auth(events[1], "X_OAUTH2", "=");
  check_auth(events[2], longest, "AA==");
  check_auth(events[3], "CRAM-MD5");
}

TEST_CASE("SMTP parser: SMTP parser: malformed AUTH", "[smtp]") {
  const std::string bad_command = GENERATE(
      as<std::string>{}, "AUTH\r\n", "AUTH \r\n", "AUTH  PLAIN\r\n", "AUTH PLAIN \r\n",
      "AUTH PLAIN  AA==\r\n", "AUTH PLAIN AA== \r\n", "AUTH PLAIN AA== extra\r\n", "AUTH PL*IN\r\n",
      "AUTH PL.IN AA==\r\n", "AUTH \"PLAIN\"\r\n", "AUTH PLAIN \"AA==\"\r\n", "AUTH PLAIN ab$c\r\n",
      "AUTH PL\xC3\x84IN\r\n", "AUTH PLAIN A\tA==\r\n", "AUTH " + repeated('M', 21) + "\r\n");
  check_bad_then_noop(bad_command);
}

TEST_CASE("SMTP parser: SMTP parser: NUL anywhere in a command line, or a stray CR, is bad syntax",
          "[smtp]") {
  const std::string bad_command =
      GENERATE(as<std::string>{}, "NOOP\0\r\n"s, "\0NOOP\r\n"s, "EHLO a\0b\r\n"s,
               "MAIL FROM:<a\0@b>\r\n"s, "AUTH PLAIN AA==\0\r\n"s, "VRFY x\0\r\n"s, "\0\r\n"s,
               "NOOP x\ry\r\n", "NOOP\r\r\n", "\rNOOP\r\n", "EHLO a\rb\n", "DATA\r\r\n");
  check_bad_then_noop(bad_command);
}

TEST_CASE("SMTP parser: SMTP parser: unknown verbs keep their upper-cased name and arguments",
          "[smtp]") {
  const auto events = events_everywhere(
      "VRFY postmaster\r\nexpn list\r\nHELP\r\nXCLIENT ADDR=192.0.2.1\r\nETRN  x \r\nX\r\n"
      "LHLO client\r\nX-Ext2 a\tb\r\nTURN \r\n");
  REQUIRE(events.size() == 9);
  check_command(events[0], CommandKind::Unknown, "VRFY", "postmaster");
  check_command(events[1], CommandKind::Unknown, "EXPN", "list");
  check_command(events[2], CommandKind::Unknown, "HELP");
  check_command(events[3], CommandKind::Unknown, "XCLIENT", "ADDR=192.0.2.1");
  check_command(events[4], CommandKind::Unknown, "ETRN", " x ");
  check_command(events[5], CommandKind::Unknown, "X");
  check_command(events[6], CommandKind::Unknown, "LHLO", "client");
  check_command(events[7], CommandKind::Unknown, "X-EXT2", "a\tb");
  check_command(events[8], CommandKind::Unknown, "TURN");
}

TEST_CASE("SMTP parser: SMTP parser: anything else in verb position is bad syntax", "[smtp]") {
  const std::string bad_command =
      GENERATE(as<std::string>{}, "\r\n", "\n", " NOOP\r\n", "  \r\n", "1NOOP\r\n", "-NOOP\r\n",
               "NOOP-\r\n", "N\xC3\xB6P\r\n", "MAIL:FROM\r\n", "NOOP\tx\r\n", "FOO(bar)\r\n",
               "<a@b>\r\n", repeated('X', 21) + "\r\n");
  check_bad_then_noop(bad_command);
}

TEST_CASE("SMTP parser: SMTP parser: verbs up to 20 bytes are unknown commands", "[smtp]") {
  const std::string longest = repeated('X', 20);
  const auto events = events_everywhere(longest + " arg\r\n");
  REQUIRE(events.size() == 1);
  check_command(events[0], CommandKind::Unknown, longest, "arg");
}

TEST_CASE("SMTP parser: SMTP parser: bad syntax then NOOP, pipelined", "[smtp]") {
  const auto events = events_everywhere(
      "EHLO\r\nMAIL <a@b>\r\n\r\nAUTH\r\nDATA now\r\nNOOP\r\nEHLO c\r\nAUTH PLAIN\r\n*\r\n");
  REQUIRE(events.size() == 9);
  for (std::size_t i = 0; i < 5; ++i) check_error(events[i], ErrorKind::BadSyntax);
  check_command(events[5], CommandKind::Noop, "NOOP");
  check_command(events[6], CommandKind::Ehlo, "EHLO", "c");
  check_auth(events[7], "PLAIN");
  check_sasl_line(events[8], "*");
}

TEST_CASE("SMTP parser: SMTP parser: error messages never echo what the client sent", "[smtp]") {
  Options small;
  small.max_line_bytes = 32;
  const auto events = events_everywhere(
      "secret!\r\nEHLO secret secret\r\nNOOP \r\nAUTH secret! secret\r\nMAIL secret\r\n"
      "RCPT secret\0\r\nEHLO "s +
          repeated('s', 40) + "secret\r\n",
      small);
  REQUIRE(events.size() == 7);
  for (const Event& event : events) {
    REQUIRE(event.type == Type::Error);
    CHECK(event.error.message.find("secret") == std::string::npos);
  }
  CHECK(events.back().error.fatal());
}

TEST_CASE("SMTP parser: SMTP parser: a line of exactly the limit is accepted", "[smtp]") {
  Options small;
  small.max_line_bytes = 16;
  const std::string ehlo = "EHLO " + repeated('d', 9) + "\r\n";
  const std::string sasl = repeated('A', 14) + "\r\n";
  REQUIRE(ehlo.size() == 16);
  const auto events = events_everywhere(ehlo + "AUTH PLAIN\n" + sasl + "NOOP\r\n", small);
  REQUIRE(events.size() == 4);
  check_command(events[0], CommandKind::Ehlo, "EHLO", repeated('d', 9));
  check_auth(events[1], "PLAIN");
  check_sasl_line(events[2], repeated('A', 14));
  check_command(events[3], CommandKind::Noop, "NOOP");
}

TEST_CASE("SMTP parser: SMTP parser: the default limit takes a 4096-byte AUTH line, LF included",
          "[smtp]") {
  const std::string prefix = "AUTH PLAIN ";
  const std::string initial_response = repeated('A', 4096 - prefix.size() - 2);
  const std::string line = prefix + initial_response + "\r\n";
  REQUIRE(line.size() == Parser::kDefaultMaxLineBytes);
  const auto events = events_everywhere(line + "NOOP\r\n");
  REQUIRE(events.size() == 2);
  check_auth(events[0], "PLAIN", initial_response);
  check_command(events[1], CommandKind::Noop, "NOOP");

  const auto too_long = events_everywhere(prefix + "A" + initial_response + "\r\nNOOP\r\n");
  REQUIRE(too_long.size() == 1);
  check_error(too_long[0], ErrorKind::LineTooLong);
}

TEST_CASE("SMTP parser: SMTP parser: a line over the limit is fatal, with or without its LF",
          "[smtp]") {
  Options small;
  small.max_line_bytes = 16;
  const std::string too_long = "EHLO " + repeated('d', 11);  // 17 bytes with a bare LF
  const std::string with_line_feed =
      GENERATE_COPY(too_long + "\r\n", too_long + "\n", too_long + "xxxxxxxx", too_long + "\r");
  INFO(with_line_feed);
  const auto events = events_everywhere("NOOP\r\n" + with_line_feed + "NOOP\r\nQUIT\r\n", small);
  REQUIRE(events.size() == 2);
  check_command(events[0], CommandKind::Noop, "NOOP");
  check_error(events[1], ErrorKind::LineTooLong);
}

TEST_CASE("SMTP parser: SMTP parser: a line over the limit fails before its LF arrives", "[smtp]") {
  Parser parser(32);
  for (int i = 0; i < 32; ++i) {
    parser.feed("x");
    REQUIRE(parser.next().type == Type::NeedMore);
    REQUIRE(parser.buffered_bytes() == static_cast<std::size_t>(i + 1));
  }
  parser.feed("x");
  check_error(parser.next(), ErrorKind::LineTooLong);
  CHECK(parser.buffered_bytes() == 0);

  // From now on nothing is kept and nothing comes out.
  parser.feed("NOOP\r\n");
  CHECK(parser.buffered_bytes() == 0);
  CHECK(parser.next().type == Type::NeedMore);
  CHECK(parser.next().type == Type::NeedMore);
}

TEST_CASE("SMTP parser: SMTP parser: a long line in one feed fails at once", "[smtp]") {
  Parser parser;
  parser.feed("NOOP\r\nEHLO " + repeated('d', 100000));
  check_command(parser.next(), CommandKind::Noop, "NOOP");
  check_error(parser.next(), ErrorKind::LineTooLong);
  CHECK(parser.buffered_bytes() == 0);
  CHECK(parser.next().type == Type::NeedMore);
}

TEST_CASE("SMTP parser: SMTP parser: a SASL line over the limit is fatal", "[smtp]") {
  Options small;
  small.max_line_bytes = 16;
  const auto events =
      events_everywhere("AUTH PLAIN\r\n" + repeated('A', 15) + "\r\nNOOP\r\n", small);
  REQUIRE(events.size() == 2);
  check_auth(events[0], "PLAIN");
  check_error(events[1], ErrorKind::LineTooLong);
}

TEST_CASE("SMTP parser: SMTP parser: an incomplete command waits for more", "[smtp]") {
  Parser parser;
  parser.feed("EH");
  CHECK(parser.next().type == Type::NeedMore);
  parser.feed("LO c\r");
  CHECK(parser.next().type == Type::NeedMore);
  CHECK(parser.buffered_bytes() == 7);
  parser.feed("\n");
  check_command(parser.next(), CommandKind::Ehlo, "EHLO", "c");
  CHECK(parser.next().type == Type::NeedMore);
  CHECK(parser.buffered_bytes() == 0);
}

TEST_CASE("SMTP parser: SMTP parser: discard_buffered after STARTTLS drops a pipelined AUTH",
          "[smtp]") {
  Parser parser;
  parser.feed("STARTTLS\r\nAUTH PLAIN xyz\r\n");
  check_command(parser.next(), CommandKind::StartTls, "STARTTLS");
  parser.discard_buffered();
  CHECK(parser.buffered_bytes() == 0);
  CHECK(parser.next().type == Type::NeedMore);

  // What arrives over TLS is parsed afresh.
  parser.feed("EHLO c\r\n");
  check_command(parser.next(), CommandKind::Ehlo, "EHLO", "c");
  CHECK(parser.next().type == Type::NeedMore);
}

TEST_CASE(
    "SMTP parser: SMTP parser: after STARTTLS no pipelined plaintext runs, however it was split",
    "[smtp]") {
  Options tls;
  tls.tls_at_starttls = true;
  const Outcome outcome = parse_everywhere(
      "EHLO c\r\nSTARTTLS\r\nAUTH PLAIN xyz\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n", tls);
  REQUIRE(outcome.events.size() == 2);
  check_command(outcome.events[0], CommandKind::Ehlo, "EHLO", "c");
  check_command(outcome.events[1], CommandKind::StartTls, "STARTTLS");
  CHECK(outcome.forwarded.empty());
}

TEST_CASE("SMTP parser: SMTP parser: discard_buffered also drops a line half read", "[smtp]") {
  Parser parser;
  parser.feed("STARTTLS\r\nAUTH PL");
  check_command(parser.next(), CommandKind::StartTls, "STARTTLS");
  parser.discard_buffered();

  parser.feed("NOOP\r\n");
  check_command(parser.next(), CommandKind::Noop, "NOOP");
  CHECK(parser.next().type == Type::NeedMore);
}

TEST_CASE(
    "SMTP parser: SMTP parser: take_unparsed after AUTH hands the pipelined transaction to the pod",
    "[smtp]") {
  Options login;
  login.hand_over_at_login = true;
  const std::string transaction = "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";

  const Outcome with_ir = parse_everywhere(
      "EHLO client.example.org\r\nAUTH PLAIN " + std::string(kPlainAlice) + "\r\n" + transaction,
      login);
  REQUIRE(with_ir.events.size() == 2);
  check_command(with_ir.events[0], CommandKind::Ehlo, "EHLO", "client.example.org");
  check_auth(with_ir.events[1], "PLAIN", std::string(kPlainAlice));
  CHECK(decode_plain(with_ir.events[1].command.initial_response->view()) ==
        Credentials{"alice", "secret"});
  CHECK(with_ir.forwarded == "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");

  const Outcome without_ir =
      parse_everywhere("EHLO c\nAUTH PLAIN\n" + kPlainJuergen + "\n" + transaction, login);
  REQUIRE(without_ir.events.size() == 3);
  check_auth(without_ir.events[1], "PLAIN");
  CHECK(decode_plain(without_ir.events[2].sasl_line.view()) ==
        Credentials{"j\xC3\xBCrgen", "pa ss w\xC3\xB6rd"});
  CHECK(without_ir.forwarded == transaction);

  const Outcome two_steps = parse_everywhere(
      "AUTH LOGIN\r\n*\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n" + transaction, login);
  REQUIRE(two_steps.events.size() == 5);
  check_auth(two_steps.events[2], "LOGIN");
  check_sasl_line(two_steps.events[4], "cGFzcw==");
  CHECK(decode(two_steps.events[4].sasl_line.view()) == "pass");
  CHECK(two_steps.forwarded == transaction);
}

TEST_CASE(
    "SMTP parser: SMTP parser: take_unparsed passes anything on untouched, long lines and NULs too",
    "[smtp]") {
  Options login;
  login.hand_over_at_login = true;
  login.max_line_bytes = 64;
  const std::string rest = "BDAT 3 LAST\r\na\0b"s + repeated('x', 200) + "\r\n.\r\nQUIT";
  const Outcome outcome = parse_everywhere("AUTH PLAIN =\r\n" + rest, login);
  REQUIRE(outcome.events.size() == 1);
  check_auth(outcome.events[0], "PLAIN", "=");
  CHECK(outcome.forwarded == rest);
}

TEST_CASE("SMTP parser: SMTP parser: take_unparsed empties the parser", "[smtp]") {
  Parser parser;
  parser.feed("AUTH PLAIN =\r\nMAIL FROM:<a@b>\r\nRC");
  check_auth(parser.next(), "PLAIN", "=");
  CHECK(parser.buffered_bytes() == 19);
  CHECK(parser.take_unparsed() == "MAIL FROM:<a@b>\r\nRC");
  CHECK(parser.buffered_bytes() == 0);
  CHECK(parser.next().type == Type::NeedMore);
  CHECK(parser.take_unparsed().empty());
}
