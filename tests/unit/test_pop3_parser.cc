// The pre-auth POP3 parser. Nearly every input goes through parse_everywhere():
// parsed whole, then split in two at every offset, one byte at a time and
// three ways; every run must give the same events (and hand the pod the same
// bytes) as the whole parse.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/protocol/pop3/pop3_parser.h"
#include "proxy/protocol/sasl/sasl.h"

namespace {

using namespace std::string_literals;
using podgate::pop3::Command;
using podgate::pop3::CommandKind;
using podgate::pop3::ErrorKind;
using podgate::pop3::Event;
using podgate::pop3::Parser;
using Type = Event::Type;

struct Options {
  std::size_t max_line_bytes = Parser::kDefaultMaxLineBytes;
  // After PASS or a completed AUTH the session logs in and hands whatever
  // follows to the pod (take_unparsed()).
  bool hand_over_at_login = false;
  // After STLS the session drops buffered plaintext and switches to TLS:
  // nothing the client sends afterwards reaches this parser as plaintext.
  bool tls_at_stls = false;
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
    } else if (event.command.kind == CommandKind::Auth && !event.command.mechanism.empty()) {
      lines_wanted_ = event.command.mechanism == "LOGIN" ? 2 : 1;
      if (event.command.initial_response) --lines_wanted_;
      if (lines_wanted_ == 0) log_in(parser);
    } else if (event.command.kind == CommandKind::Pass) {
      log_in(parser);
    } else if (event.command.kind == CommandKind::Stls && options_.tls_at_stls) {
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
         "] password [" + std::string(command.password.view()) + "] mechanism [" +
         command.mechanism + "] ir " +
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
  // PASS carries its argument as a secret.
  std::string_view given =
      kind == CommandKind::Pass ? event.command.password.view() : event.command.argument;
  CHECK(given == argument);
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

// A bad command must cost exactly one -ERR: the command after it still runs.
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

// base64 of "\0alice\0secret" and of "\0j\xC3\xBCrgen\0pa ss w\xC3\xB6rd".
constexpr std::string_view kPlainAlice = "AGFsaWNlAHNlY3JldA==";
const std::string kPlainJuergen =
    podgate::sasl::base64_encode(podgate::sasl::make_plain("j\xC3\xBCrgen", "pa ss w\xC3\xB6rd"));

}  // namespace

TEST_CASE("POP3 parser: commands without arguments", "[pop3]") {
  const auto events = events_everywhere("CAPA\r\nSTLS\r\nQUIT\r\nNOOP\r\n");
  REQUIRE(events.size() == 4);
  check_command(events[0], CommandKind::Capa, "CAPA");
  check_command(events[1], CommandKind::Stls, "STLS");
  check_command(events[2], CommandKind::Quit, "QUIT");
  check_command(events[3], CommandKind::Noop, "NOOP");
}

TEST_CASE("POP3 parser: keywords are case-insensitive, arguments keep their case", "[pop3]") {
  const auto events = events_everywhere(
      "capa\r\nUser Alice\r\npass PassWord\r\nauth plain =\r\nnOoP\r\nstls\r\nQuit\r\n");
  REQUIRE(events.size() == 7);
  check_command(events[0], CommandKind::Capa, "CAPA");
  check_command(events[1], CommandKind::User, "USER", "Alice");
  check_command(events[2], CommandKind::Pass, "PASS", "PassWord");
  check_auth(events[3], "PLAIN", "=");
  check_command(events[4], CommandKind::Noop, "NOOP");
  check_command(events[5], CommandKind::Stls, "STLS");
  check_command(events[6], CommandKind::Quit, "QUIT");
}

TEST_CASE("POP3 parser: USER takes one name, UTF-8 and punctuation included", "[pop3]") {
  const auto events = events_everywhere(
      "USER alice@example.org\r\nUSER j\xC3\xBCrgen\r\nUSER a\"b'c*d=e\r\nUSER x\r\n");
  REQUIRE(events.size() == 4);
  check_command(events[0], CommandKind::User, "USER", "alice@example.org");
  check_command(events[1], CommandKind::User, "USER", "j\xC3\xBCrgen");
  check_command(events[2], CommandKind::User, "USER", "a\"b'c*d=e");
  check_command(events[3], CommandKind::User, "USER", "x");
}

TEST_CASE("POP3 parser: PASS takes the rest of the line, spaces, quotes and UTF-8 included",
          "[pop3]") {
  const auto events = events_everywhere(
      "PASS se cr et\r\n"
      "PASS  leading and trailing  \r\n"
      "PASS \"quoted\" 'single' \\back\\slash\r\n"
      "PASS p\xC3\xA4ss \xE2\x82\xAC\r\n"
      "PASS tab\there\r\n"
      "PASS *\r\n"
      "PASS  \r\n");
  REQUIRE(events.size() == 7);
  check_command(events[0], CommandKind::Pass, "PASS", "se cr et");
  check_command(events[1], CommandKind::Pass, "PASS", " leading and trailing  ");
  check_command(events[2], CommandKind::Pass, "PASS", "\"quoted\" 'single' \\back\\slash");
  check_command(events[3], CommandKind::Pass, "PASS", "p\xC3\xA4ss \xE2\x82\xAC");
  check_command(events[4], CommandKind::Pass, "PASS", "tab\there");
  check_command(events[5], CommandKind::Pass, "PASS", "*");
  check_command(events[6], CommandKind::Pass, "PASS", " ");
}

TEST_CASE("POP3 parser: a bare LF ends a line like CRLF", "[pop3]") {
  const auto events = events_everywhere("NOOP\nUSER u\nPASS p w\nAUTH PLAIN\n" +
                                        std::string(kPlainAlice) + "\nQUIT\r\n");
  REQUIRE(events.size() == 6);
  check_command(events[0], CommandKind::Noop, "NOOP");
  check_command(events[1], CommandKind::User, "USER", "u");
  check_command(events[2], CommandKind::Pass, "PASS", "p w");
  check_auth(events[3], "PLAIN");
  check_sasl_line(events[4], kPlainAlice);
  check_command(events[5], CommandKind::Quit, "QUIT");
}

TEST_CASE("POP3 parser: pipelined commands in one buffer", "[pop3]") {
  const auto events = events_everywhere("CAPA\r\nUSER alice\r\nPASS secret\r\nQUIT\r\n");
  REQUIRE(events.size() == 4);
  check_command(events[0], CommandKind::Capa, "CAPA");
  check_command(events[1], CommandKind::User, "USER", "alice");
  check_command(events[2], CommandKind::Pass, "PASS", "secret");
  check_command(events[3], CommandKind::Quit, "QUIT");
}

TEST_CASE("POP3 parser: AUTH PLAIN without initial response reads the next line as SASL",
          "[pop3]") {
  const auto events = events_everywhere("AUTH PLAIN\r\n" + std::string(kPlainAlice) +
                                        "\r\nAUTH plain\r\n" + kPlainJuergen + "\r\nNOOP\r\n");
  REQUIRE(events.size() == 5);
  check_auth(events[0], "PLAIN");
  check_sasl_line(events[1], kPlainAlice);
  CHECK(decode_plain(events[1].sasl_line.view()) ==
        std::pair<std::string, std::string>{"alice", "secret"});
  check_auth(events[2], "PLAIN");
  check_sasl_line(events[3], kPlainJuergen);
  CHECK(decode_plain(events[3].sasl_line.view()) ==
        std::pair<std::string, std::string>{"j\xC3\xBCrgen", "pa ss w\xC3\xB6rd"});
  check_command(events[4], CommandKind::Noop, "NOOP");
}

TEST_CASE("POP3 parser: AUTH PLAIN with an initial response returns it as sent", "[pop3]") {
  const auto events =
      events_everywhere("AUTH PLAIN " + std::string(kPlainAlice) + "\r\nauth Plain " +
                        kPlainJuergen + "\r\nAUTH PLAIN =\r\nNOOP\r\n");
  REQUIRE(events.size() == 4);
  check_auth(events[0], "PLAIN", std::string(kPlainAlice));
  CHECK(decode_plain(events[0].command.initial_response->view()) ==
        std::pair<std::string, std::string>{"alice", "secret"});
  check_auth(events[1], "PLAIN", kPlainJuergen);
  CHECK(decode_plain(events[1].command.initial_response->view()) ==
        std::pair<std::string, std::string>{"j\xC3\xBCrgen", "pa ss w\xC3\xB6rd"});
  check_auth(events[2], "PLAIN", "=");
  check_command(events[3], CommandKind::Noop, "NOOP");
}

TEST_CASE("POP3 parser: AUTH LOGIN in two steps, with or without initial response, or cancelled",
          "[pop3]") {
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
  check_sasl_line(events[4], "cGEgc3M=");
  check_auth(events[5], "LOGIN");
  check_sasl_line(events[6], "*");
  check_auth(events[7], "LOGIN");
  check_sasl_line(events[8], "dXNlcg==");
  check_sasl_line(events[9], "*");
  check_command(events[10], CommandKind::Noop, "NOOP");
}

TEST_CASE("POP3 parser: a SASL line is never parsed as a command and comes back as sent",
          "[pop3]") {
  const auto events = events_everywhere(
      "AUTH PLAIN\r\nQUIT\r\n"
      "AUTH PLAIN\r\n*\r\n"
      "AUTH PLAIN\n\n"
      "AUTH PLAIN\r\n  x y \r\n"
      "AUTH PLAIN\r\nA\0B\r\n"
      "NOOP\n"s);
  REQUIRE(events.size() == 11);
  check_auth(events[0], "PLAIN");
  check_sasl_line(events[1], "QUIT");
  check_auth(events[2], "PLAIN");
  check_sasl_line(events[3], "*");
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

TEST_CASE("POP3 parser: bare AUTH asks for the mechanism list and expects no SASL line", "[pop3]") {
  const auto events = events_everywhere("AUTH\r\nauth\nNOOP\r\n");
  REQUIRE(events.size() == 3);
  check_auth(events[0], "");
  check_auth(events[1], "");
  check_command(events[2], CommandKind::Noop, "NOOP");
}

TEST_CASE("POP3 parser: AUTH mechanism names follow RFC 4422", "[pop3]") {
  const std::string longest = repeated('M', 20);
  const auto events = events_everywhere(
      "AUTH scram-sha-256 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlx\r\n"
      "AUTH X_OAUTH2 =\r\nAUTH " +
      longest + " AA==\r\n");
  REQUIRE(events.size() == 3);
  check_auth(events[0], "SCRAM-SHA-256", "biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlx");
  check_auth(events[1], "X_OAUTH2", "=");
  check_auth(events[2], longest, "AA==");
}

TEST_CASE("POP3 parser: malformed AUTH", "[pop3]") {
  const std::string bad_command = GENERATE(
      as<std::string>{}, "AUTH \r\n", "AUTH  PLAIN\r\n", "AUTH PLAIN \r\n", "AUTH PLAIN  AA==\r\n",
      "AUTH PLAIN AA== \r\n", "AUTH PLAIN AA== extra\r\n", "AUTH PL*IN\r\n", "AUTH PL.IN AA==\r\n",
      "AUTH \"PLAIN\"\r\n", "AUTH PLAIN \"AA==\"\r\n", "AUTH PLAIN ab$c\r\n",
      "AUTH PL\xC3\x84IN\r\n", "AUTH PLAIN A\tA==\r\n", "AUTH " + repeated('M', 21) + "\r\n");
  check_bad_then_noop(bad_command);
}

TEST_CASE("POP3 parser: malformed USER", "[pop3]") {
  const std::string bad_command =
      GENERATE(as<std::string>{}, "USER\r\n", "USER \r\n", "USER a b\r\n", "USER  a\r\n",
               "USER a \r\n", "USER a\tb\r\n", "USER a\x7f\r\n", "USER a\x1b\r\n");
  check_bad_then_noop(bad_command);
}

TEST_CASE("POP3 parser: PASS needs a password", "[pop3]") {
  check_bad_then_noop("PASS\r\n");
  check_bad_then_noop("PASS\n");
  check_bad_then_noop("PASS \r\n");
}

TEST_CASE("POP3 parser: commands without arguments refuse them", "[pop3]") {
  const std::string bad_command = GENERATE(as<std::string>{}, "CAPA x\r\n", "STLS x\r\n",
                                           "QUIT now\r\n", "NOOP 1\r\n", "NOOP \r\n", "CAPA  \r\n");
  check_bad_then_noop(bad_command);
}

TEST_CASE("POP3 parser: NUL anywhere in a command line, or a stray CR, is bad syntax", "[pop3]") {
  const std::string bad_command = GENERATE(
      as<std::string>{}, "NOOP\0\r\n"s, "\0NOOP\r\n"s, "USER a\0b\r\n"s, "PASS se\0cret\r\n"s,
      "PASS secret\0\r\n"s, "STAT\0\r\n"s, "STAT 1\0\r\n"s, "XYZZY\0\r\n"s, "\0\r\n"s,
      "PASS se\rcret\r\n", "NOOP\r\r\n", "\rNOOP\r\n", "USER a\rb\n");
  check_bad_then_noop(bad_command);
}

TEST_CASE("POP3 parser: unknown keywords of 3 or 4 letters keep their upper-cased name", "[pop3]") {
  const auto events = events_everywhere(
      "STAT\r\nlist 1\r\nAPOP mrose c4c9334bac560ecc979e58001b3e22fb\r\nTop 1  10 \r\nxyz\r\n"
      "UIDL \r\n");
  REQUIRE(events.size() == 6);
  check_command(events[0], CommandKind::Unknown, "STAT");
  check_command(events[1], CommandKind::Unknown, "LIST");
  check_command(events[2], CommandKind::Unknown, "APOP");
  check_command(events[3], CommandKind::Unknown, "TOP");
  check_command(events[4], CommandKind::Unknown, "XYZ");
  check_command(events[5], CommandKind::Unknown, "UIDL");
}

TEST_CASE("POP3 parser: anything else in keyword position is bad syntax", "[pop3]") {
  const std::string bad_command = GENERATE(
      as<std::string>{}, "\r\n", "\n", " NOOP\r\n", "  \r\n", "NO\r\n", "XYZZY\r\n",
      "CAPABILITY\r\n", "AUTHENTICATE PLAIN\r\n", "STARTTLS\r\n", "NOP1\r\n", "N\xC3\xB6P\r\n",
      "FOO(bar)\r\n", "NOOP(\r\n", "NO-OP\r\n", "NOOP\tx\r\n", "a1 NOOP\r\n");
  check_bad_then_noop(bad_command);
}

TEST_CASE("POP3 parser: a bad command then NOOP, pipelined", "[pop3]") {
  const auto events =
      events_everywhere("USER\r\nXYZZY secret\r\n\r\nPASS\r\nNOOP\r\nUSER alice\r\n");
  REQUIRE(events.size() == 6);
  for (std::size_t i = 0; i < 4; ++i) check_error(events[i], ErrorKind::BadSyntax);
  check_command(events[4], CommandKind::Noop, "NOOP");
  check_command(events[5], CommandKind::User, "USER", "alice");
}

TEST_CASE("POP3 parser: error messages never echo what the client sent", "[pop3]") {
  const auto events = events_everywhere(
      "secret\r\nUSER secret secret\r\nNOOP secret\r\nAUTH secret! secret\r\nPASS secret\0\r\n"
      "USER "s +
          repeated('s', 40) + "secret\r\n",
      Options{32});
  REQUIRE(events.size() == 6);
  for (const Event& event : events) {
    REQUIRE(event.type == Type::Error);
    CHECK(event.error.message.find("secret") == std::string::npos);
  }
  CHECK(events.back().error.fatal());
}

TEST_CASE("POP3 parser: a line of exactly the limit is accepted", "[pop3]") {
  Options small;
  small.max_line_bytes = 16;
  const std::string pass = "PASS " + repeated('p', 9) + "\r\n";
  const std::string sasl = repeated('A', 14) + "\r\n";
  REQUIRE(pass.size() == 16);
  const auto events = events_everywhere(pass + "AUTH PLAIN\n" + sasl + "NOOP\r\n", small);
  REQUIRE(events.size() == 4);
  check_command(events[0], CommandKind::Pass, "PASS", repeated('p', 9));
  check_auth(events[1], "PLAIN");
  check_sasl_line(events[2], repeated('A', 14));
  check_command(events[3], CommandKind::Noop, "NOOP");
}

TEST_CASE("POP3 parser: a line over the limit is fatal, with or without its LF", "[pop3]") {
  Options small;
  small.max_line_bytes = 16;
  const std::string too_long = "PASS " + repeated('p', 11);  // 17 bytes with a bare LF
  const std::string with_line_feed =
      GENERATE_COPY(too_long + "\r\n", too_long + "\n", too_long + "xxxxxxxx", too_long + "\r");
  INFO(with_line_feed);
  const auto events = events_everywhere("NOOP\r\n" + with_line_feed + "NOOP\r\nQUIT\r\n", small);
  REQUIRE(events.size() == 2);
  check_command(events[0], CommandKind::Noop, "NOOP");
  check_error(events[1], ErrorKind::LineTooLong);
}

TEST_CASE("POP3 parser: a line over the limit fails before its LF arrives", "[pop3]") {
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

TEST_CASE("POP3 parser: a long line in one feed fails at once", "[pop3]") {
  Parser parser;
  parser.feed("NOOP\r\nUSER " + repeated('u', 100000));
  check_command(parser.next(), CommandKind::Noop, "NOOP");
  check_error(parser.next(), ErrorKind::LineTooLong);
  CHECK(parser.buffered_bytes() == 0);
  CHECK(parser.next().type == Type::NeedMore);
}

TEST_CASE("POP3 parser: a SASL line over the limit is fatal", "[pop3]") {
  Options small;
  small.max_line_bytes = 16;
  const auto events =
      events_everywhere("AUTH PLAIN\r\n" + repeated('A', 15) + "\r\nNOOP\r\n", small);
  REQUIRE(events.size() == 2);
  check_auth(events[0], "PLAIN");
  check_error(events[1], ErrorKind::LineTooLong);
}

TEST_CASE("POP3 parser: an incomplete command waits for more", "[pop3]") {
  Parser parser;
  parser.feed("NO");
  CHECK(parser.next().type == Type::NeedMore);
  parser.feed("OP\r");
  CHECK(parser.next().type == Type::NeedMore);
  CHECK(parser.buffered_bytes() == 5);
  parser.feed("\n");
  check_command(parser.next(), CommandKind::Noop, "NOOP");
  CHECK(parser.next().type == Type::NeedMore);
  CHECK(parser.buffered_bytes() == 0);
}

TEST_CASE("POP3 parser: discard_buffered after STLS drops pipelined USER and PASS", "[pop3]") {
  Parser parser;
  parser.feed("STLS\r\nUSER a\r\nPASS b\r\n");
  check_command(parser.next(), CommandKind::Stls, "STLS");
  parser.discard_buffered();
  CHECK(parser.buffered_bytes() == 0);
  CHECK(parser.next().type == Type::NeedMore);

  // What arrives over TLS is parsed afresh.
  parser.feed("CAPA\r\n");
  check_command(parser.next(), CommandKind::Capa, "CAPA");
  CHECK(parser.next().type == Type::NeedMore);
}

TEST_CASE("POP3 parser: after STLS no pipelined plaintext runs, however it was split", "[pop3]") {
  Options tls;
  tls.tls_at_stls = true;
  const Outcome outcome = parse_everywhere("CAPA\r\nSTLS\r\nUSER a\r\nPASS b\r\n", tls);
  REQUIRE(outcome.events.size() == 2);
  check_command(outcome.events[0], CommandKind::Capa, "CAPA");
  check_command(outcome.events[1], CommandKind::Stls, "STLS");
  CHECK(outcome.forwarded.empty());
}

TEST_CASE("POP3 parser: discard_buffered also drops a line half read", "[pop3]") {
  Parser parser;
  parser.feed("STLS\r\nUSER a");
  check_command(parser.next(), CommandKind::Stls, "STLS");
  parser.discard_buffered();

  parser.feed("NOOP\r\n");
  check_command(parser.next(), CommandKind::Noop, "NOOP");
  CHECK(parser.next().type == Type::NeedMore);
}

TEST_CASE("POP3 parser: take_unparsed after PASS hands the pipelined rest to the pod", "[pop3]") {
  Options login;
  login.hand_over_at_login = true;
  const Outcome outcome =
      parse_everywhere("USER alice\r\nPASS se cret\r\nSTAT\r\nRETR 1\r\nLIST", login);
  REQUIRE(outcome.events.size() == 2);
  check_command(outcome.events[0], CommandKind::User, "USER", "alice");
  check_command(outcome.events[1], CommandKind::Pass, "PASS", "se cret");
  CHECK(outcome.forwarded == "STAT\r\nRETR 1\r\nLIST");
}

TEST_CASE("POP3 parser: take_unparsed after AUTH hands the pipelined rest to the pod", "[pop3]") {
  Options login;
  login.hand_over_at_login = true;
  const Outcome with_ir =
      parse_everywhere("AUTH PLAIN " + std::string(kPlainAlice) + "\r\nSTAT\r\n\0x"s, login);
  REQUIRE(with_ir.events.size() == 1);
  check_auth(with_ir.events[0], "PLAIN", std::string(kPlainAlice));
  CHECK(with_ir.forwarded == "STAT\r\n\0x"s);

  const Outcome two_steps =
      parse_everywhere("AUTH LOGIN\r\n*\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nQUIT\r\n", login);
  REQUIRE(two_steps.events.size() == 5);
  check_auth(two_steps.events[2], "LOGIN");
  check_sasl_line(two_steps.events[4], "cGFzcw==");
  CHECK(two_steps.forwarded == "QUIT\r\n");
}

TEST_CASE("POP3 parser: take_unparsed empties the parser", "[pop3]") {
  Parser parser;
  parser.feed("PASS x\r\nSTAT\r\nLI");
  check_command(parser.next(), CommandKind::Pass, "PASS", "x");
  CHECK(parser.buffered_bytes() == 8);
  CHECK(parser.take_unparsed() == "STAT\r\nLI");
  CHECK(parser.buffered_bytes() == 0);
  CHECK(parser.next().type == Type::NeedMore);
  CHECK(parser.take_unparsed().empty());
}

TEST_CASE("POP3 parser: a session over a whole good corpus", "[pop3]") {
  const std::string corpus =
      "CAPA\r\nauth\r\nUSER j\xC3\xBCrgen\r\nPASS  a \"b\" c \r\n" + "AUTH PLAIN\r\n"s +
      kPlainJuergen + "\r\nAUTH LOGIN\r\ndXNlcg==\r\n*\r\n" + "stat\nNOOP x\r\nNOOP\r\nQUIT\r\n";
  const auto events = events_everywhere(corpus);
  REQUIRE(events.size() == 13);
  check_command(events[0], CommandKind::Capa, "CAPA");
  check_auth(events[1], "");
  check_command(events[2], CommandKind::User, "USER", "j\xC3\xBCrgen");
  check_command(events[3], CommandKind::Pass, "PASS", " a \"b\" c ");
  check_auth(events[4], "PLAIN");
  check_sasl_line(events[5], kPlainJuergen);
  check_auth(events[6], "LOGIN");
  check_sasl_line(events[7], "dXNlcg==");
  check_sasl_line(events[8], "*");
  check_command(events[9], CommandKind::Unknown, "STAT");
  check_error(events[10], ErrorKind::BadSyntax);
  check_command(events[11], CommandKind::Noop, "NOOP");
  check_command(events[12], CommandKind::Quit, "QUIT");
}
