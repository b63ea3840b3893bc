// The pre-auth IMAP parser. Nearly every input goes through parse_everywhere():
// parsed whole, then split in two at every offset, one byte at a time and
// three ways; every run must give the same events as the whole parse.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/protocol/imap/imap_parser.h"

namespace {

using namespace std::string_literals;
using podgate::imap::Command;
using podgate::imap::CommandKind;
using podgate::imap::ErrorKind;
using podgate::imap::Event;
using podgate::imap::Parser;
using Type = Event::Type;

struct Options {
  std::size_t max_command_bytes = Parser::kDefaultMaxCommandBytes;
  // Client lines the simulated session wants per AUTHENTICATE exchange; an
  // initial response counts as the first.
  std::size_t sasl_steps = 1;
};

// Plays the session's part between events: after AUTHENTICATE it asks for SASL
// lines until the exchange is over or the client cancels with "*".
class FakeSession {
 public:
  explicit FakeSession(std::size_t sasl_steps) : sasl_steps_(sasl_steps) {}

  void on_event(Parser& parser, const Event& event) {
    if (event.type == Type::Command && event.command.kind == CommandKind::Authenticate) {
      const std::size_t lines_sent = event.command.initial_response ? 1 : 0;
      lines_wanted_ = sasl_steps_ > lines_sent ? sasl_steps_ - lines_sent : 0;
    } else if (event.type == Type::SaslResponse) {
      lines_wanted_ = event.sasl_line == "*" ? 0 : lines_wanted_ - 1;
    } else {
      return;
    }
    if (lines_wanted_ > 0) parser.expect_sasl_response();
  }

 private:
  std::size_t sasl_steps_;
  std::size_t lines_wanted_ = 0;
};

// Feeds the chunks in order, draining next() after each, as a session would.
std::vector<Event> parse_chunks(const std::vector<std::string_view>& chunks,
                                const Options& options) {
  Parser parser(options.max_command_bytes);
  FakeSession session(options.sasl_steps);
  std::vector<Event> events;
  for (std::string_view chunk : chunks) {
    parser.feed(chunk);
    for (Event event = parser.next(); event.type != Type::NeedMore; event = parser.next()) {
      session.on_event(parser, event);
      events.push_back(std::move(event));
    }
    CHECK(parser.buffered_bytes() <= options.max_command_bytes);
  }
  return events;
}

std::string describe(const Event& event) {
  switch (event.type) {
    case Type::NeedMore:
      return "need more";
    case Type::LiteralContinuation:
      return "continuation";
    case Type::SaslResponse:
      return "sasl [" + std::string(event.sasl_line.view()) + "]";
    case Type::Error:
      return "error " + std::to_string(static_cast<int>(event.error.kind)) + " tag [" +
             event.error.tag + "] " + event.error.message;
    case Type::Command:
      break;
  }
  const Command& command = event.command;
  std::string text =
      "command tag [" + command.tag + "] name [" + command.name + "] kind " +
      std::to_string(static_cast<int>(command.kind)) + " user [" + command.user + "] password [" +
      std::string(command.password.view()) + "] mechanism [" + command.mechanism + "] ir " +
      (command.initial_response ? "[" + std::string(command.initial_response->view()) + "]"
                                : "none");
  for (const auto& [field, value] : command.id_fields)
    text += " id [" + field + "]=[" + value + "]";
  return text;
}

std::vector<std::string> describe_all(const std::vector<Event>& events) {
  std::vector<std::string> descriptions;
  for (const Event& event : events) descriptions.push_back(describe(event));
  return descriptions;
}

// Returns the events of the whole-buffer parse after checking that every
// other way of splitting `input` gives the same ones.
std::vector<Event> parse_everywhere(std::string_view input, const Options& options = {}) {
  std::vector<Event> whole = parse_chunks({input}, options);
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
    second = std::min(second, size);
    INFO("split at " << first << " and " << second);
    CHECK(describe_all(parse_chunks(
              {input.substr(0, first), input.substr(first, second - first), input.substr(second)},
              options)) == expected);
  }
  return whole;
}

// "{n}\r\n" (or "{n+}\r\n") followed by the data, pipelined as a test client
// may do even for a synchronizing literal.
std::string literal(std::string_view data, bool synchronizing = true) {
  std::string text = "{";
  text += std::to_string(data.size());
  text += synchronizing ? "}\r\n" : "+}\r\n";
  text += data;
  return text;
}

void check_command(const Event& event, std::string_view tag, CommandKind kind,
                   std::string_view name) {
  INFO(describe(event));
  REQUIRE(event.type == Type::Command);
  CHECK(event.command.tag == tag);
  CHECK(event.command.kind == kind);
  CHECK(event.command.name == name);
}

void check_login(const Event& event, std::string_view tag, std::string_view user,
                 std::string_view password) {
  check_command(event, tag, CommandKind::Login, "LOGIN");
  CHECK(event.command.user == user);
  CHECK(event.command.password == password);
}

void check_error(const Event& event, ErrorKind kind, std::string_view tag) {
  INFO(describe(event));
  REQUIRE(event.type == Type::Error);
  CHECK(event.error.kind == kind);
  CHECK(event.error.tag == tag);
  CHECK_FALSE(event.error.message.empty());
}

void check_continuation(const Event& event) {
  INFO(describe(event));
  CHECK(event.type == Type::LiteralContinuation);
}

void check_sasl_line(const Event& event, std::string_view line) {
  INFO(describe(event));
  REQUIRE(event.type == Type::SaslResponse);
  CHECK(event.sasl_line == line);
}

// A bad command must cost exactly one BAD: the command after it still runs.
void check_bad_then_noop(const std::string& bad_command, std::string_view tag) {
  INFO(bad_command);
  const std::vector<Event> events = parse_everywhere(bad_command + "z NOOP\r\n");
  REQUIRE(events.size() == 2);
  check_error(events[0], ErrorKind::BadSyntax, tag);
  check_command(events[1], "z", CommandKind::Noop, "NOOP");
}

std::string repeated(char c, std::size_t count) {
  return std::string(count, c);
}

}  // namespace

TEST_CASE("commands without arguments", "[imap]") {
  const auto events = parse_everywhere("a1 CAPABILITY\r\na2 NOOP\r\na3 LOGOUT\r\na4 STARTTLS\r\n");
  REQUIRE(events.size() == 4);
  check_command(events[0], "a1", CommandKind::Capability, "CAPABILITY");
  check_command(events[1], "a2", CommandKind::Noop, "NOOP");
  check_command(events[2], "a3", CommandKind::Logout, "LOGOUT");
  check_command(events[3], "a4", CommandKind::StartTls, "STARTTLS");
}

TEST_CASE("command names are case-insensitive, arguments keep their case", "[imap]") {
  const auto events = parse_everywhere(
      "a capability\r\nb NoOp\r\nc login Alice PassWord\r\nd authenticate plain\r\n");
  REQUIRE(events.size() == 4);
  check_command(events[0], "a", CommandKind::Capability, "CAPABILITY");
  check_command(events[1], "b", CommandKind::Noop, "NOOP");
  check_login(events[2], "c", "Alice", "PassWord");
  check_command(events[3], "d", CommandKind::Authenticate, "AUTHENTICATE");
  CHECK(events[3].command.mechanism == "PLAIN");
}

TEST_CASE("a bare LF ends a line like CRLF", "[imap]") {
  const auto events = parse_everywhere("a NOOP\nb LOGIN u p\nc LOGIN {1}\nu {1+}\np\nd LOGOUT\r\n");
  REQUIRE(events.size() == 5);
  check_command(events[0], "a", CommandKind::Noop, "NOOP");
  check_login(events[1], "b", "u", "p");
  check_continuation(events[2]);
  check_login(events[3], "c", "u", "p");
  check_command(events[4], "d", CommandKind::Logout, "LOGOUT");
}

TEST_CASE("pipelined commands in one buffer", "[imap]") {
  const auto events = parse_everywhere("a CAPABILITY\r\nb LOGIN u p\r\nc LOGOUT\r\n");
  REQUIRE(events.size() == 3);
  check_command(events[0], "a", CommandKind::Capability, "CAPABILITY");
  check_login(events[1], "b", "u", "p");
  check_command(events[2], "c", CommandKind::Logout, "LOGOUT");
}

TEST_CASE("LOGIN with atoms and quoted strings", "[imap]") {
  const auto events = parse_everywhere(
      "a LOGIN alice \"se cr\\\"et\\\\\"\r\n"
      "b LOGIN \"\" \"\"\r\n"
      "c LOGIN \"bob\" x]y\r\n"
      "d LOGIN \"j\xC3\xBCrgen\" \"p\xC3\xA4ss\"\r\n");
  REQUIRE(events.size() == 4);
  check_login(events[0], "a", "alice", "se cr\"et\\");
  check_login(events[1], "b", "", "");
  check_login(events[2], "c", "bob", "x]y");
  check_login(events[3], "d", "j\xC3\xBCrgen", "p\xC3\xA4ss");
}

TEST_CASE("LOGIN with synchronizing literals", "[imap]") {
  const std::string password = "p a\"s\\s \xC3\xA4\r\n{3}";
  const auto events =
      parse_everywhere("a LOGIN " + literal("alice") + " " + literal(password) + "\r\nb NOOP\r\n");
  REQUIRE(events.size() == 4);
  check_continuation(events[0]);
  check_continuation(events[1]);
  check_login(events[2], "a", "alice", password);
  check_command(events[3], "b", CommandKind::Noop, "NOOP");
}

TEST_CASE("LOGIN with non-synchronizing literals needs no continuation", "[imap]") {
  const std::string password = "with space \"quote\" back\\slash \xE2\x82\xAC";
  const auto events = parse_everywhere("a LOGIN " + literal("alice", false) + " " +
                                       literal(password, false) + "\r\n");
  REQUIRE(events.size() == 1);
  check_login(events[0], "a", "alice", password);
}

TEST_CASE("LOGIN mixing quoted strings, atoms and both kinds of literal", "[imap]") {
  const auto events = parse_everywhere(
      "a LOGIN \"al ice\" " + literal("pw", false) + "\r\n" + "b LOGIN " + literal("bob", false) +
      " " + literal("x") + "\r\n" + "c LOGIN " + literal("") + " " + literal("", false) + "\r\n");
  REQUIRE(events.size() == 5);
  check_login(events[0], "a", "al ice", "pw");
  check_continuation(events[1]);
  check_login(events[2], "b", "bob", "x");
  check_continuation(events[3]);
  check_login(events[4], "c", "", "");
}

TEST_CASE("malformed LOGIN is a BAD with its tag, and parsing goes on", "[imap]") {
  const std::string bad_command = GENERATE(
      as<std::string>{}, "a LOGIN\r\n", "a LOGIN user\r\n", "a LOGIN user pass extra\r\n",
      "a LOGIN \"unterminated\r\n", "a LOGIN \"bad\\escape\" p\r\n", "a LOGIN us*er p\r\n",
      "a LOGIN  user p\r\n", "a LOGIN user p \r\n", "a LOGIN user\"p\"\r\n", "a LOGIN (user) p\r\n",
      "a LOGIN u\xC3\xA4 p\r\n", "a LOGIN u \"p\0w\"\r\n"s, "a LOGIN u {3+}\r\np\0w\r\n"s,
      "a LOGIN {1+}\r\nu {1+}\r\np {1+}\r\nx\r\n", "a LOGIN u {1+}\r\npextra\r\n",
      "a LOGIN u {1+}\r\np{1+}\r\nx\r\n", "a LOGIN u p{1}\r\n");
  check_bad_then_noop(bad_command, "a");
}

TEST_CASE("a synchronizing literal the command cannot take gets no continuation", "[imap]") {
  const auto events = parse_everywhere("a LOGIN {1}\r\nu {1}\r\np {1}\r\nz NOOP\r\n");
  REQUIRE(events.size() == 4);
  check_continuation(events[0]);
  check_continuation(events[1]);
  check_error(events[2], ErrorKind::BadSyntax, "a");
  check_command(events[3], "z", CommandKind::Noop, "NOOP");
}

TEST_CASE("error messages never echo what the client sent", "[imap]") {
  const auto events = parse_everywhere(
      "a LOGIN user \"secret\\x\"\r\n+secret NOOP\r\nb NOOP secret\r\nc LOGIN u {1}secret\r\n");
  REQUIRE(events.size() == 4);
  for (const Event& event : events) {
    REQUIRE(event.type == Type::Error);
    CHECK(event.error.message.find("secret") == std::string::npos);
  }
}

TEST_CASE("ID with NIL, quoted strings, literals and NIL values", "[imap]") {
  const auto events = parse_everywhere(
      "a ID NIL\r\n"
      "b id (\"name\" \"mutt\" \"version\" NIL)\r\n"
      "c ID ()\r\n"
      "d ID (" +
      literal("name") + " " + literal("f o\"o", false) + " \"os\" nil)\r\n");
  REQUIRE(events.size() == 5);
  check_command(events[0], "a", CommandKind::Id, "ID");
  CHECK(events[0].command.id_fields.empty());
  check_command(events[1], "b", CommandKind::Id, "ID");
  using Fields = std::vector<std::pair<std::string, std::string>>;
  CHECK(events[1].command.id_fields == Fields{{"name", "mutt"}, {"version", ""}});
  check_command(events[2], "c", CommandKind::Id, "ID");
  CHECK(events[2].command.id_fields.empty());
  check_continuation(events[3]);
  check_command(events[4], "d", CommandKind::Id, "ID");
  CHECK(events[4].command.id_fields == Fields{{"name", "f o\"o"}, {"os", ""}});
}

TEST_CASE("ID takes at most 30 pairs", "[imap]") {
  std::string pairs;
  for (int i = 0; i < 30; ++i) pairs += (i > 0 ? " \"k" : "\"k") + std::to_string(i) + "\" \"v\"";

  const auto thirty = parse_everywhere("a ID (" + pairs + ")\r\n");
  REQUIRE(thirty.size() == 1);
  check_command(thirty[0], "a", CommandKind::Id, "ID");
  CHECK(thirty[0].command.id_fields.size() == 30);
  CHECK(thirty[0].command.id_fields.back() == std::pair<std::string, std::string>{"k29", "v"});

  check_bad_then_noop("a ID (" + pairs + " \"k30\" \"v\")\r\n", "a");
  // Not even a continuation for a 31st field.
  check_bad_then_noop("a ID (" + pairs + " {3}\r\n", "a");
}

TEST_CASE("malformed ID", "[imap]") {
  const std::string bad_command = GENERATE(
      as<std::string>{}, "a ID\r\n", "a ID NIL NIL\r\n", "a ID (\"k\")\r\n", "a ID (k \"v\")\r\n",
      "a ID (NIL \"v\")\r\n", "a ID (\"k\" v)\r\n", "a ID (\"k\" \"v\"\r\n",
      "a ID ( \"k\" \"v\")\r\n", "a ID (\"k\" \"v\" )\r\n", "a ID (\"k\"  \"v\")\r\n",
      "a ID (\"k\" \"v\") extra\r\n", "a ID ((\"k\" \"v\"))\r\n", "a ID {3}\r\n");
  check_bad_then_noop(bad_command, "a");
}

TEST_CASE("AUTHENTICATE without initial response reads the next line as SASL", "[imap]") {
  const auto events =
      parse_everywhere("a AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nb NOOP\r\n");
  REQUIRE(events.size() == 3);
  check_command(events[0], "a", CommandKind::Authenticate, "AUTHENTICATE");
  CHECK(events[0].command.mechanism == "PLAIN");
  CHECK_FALSE(events[0].command.initial_response.has_value());
  check_sasl_line(events[1], "AGFsaWNlAHNlY3JldA==");
  check_command(events[2], "b", CommandKind::Noop, "NOOP");
}

TEST_CASE("AUTHENTICATE with an initial response returns it as sent", "[imap]") {
  const auto events =
      parse_everywhere("a AUTHENTICATE plain AGFsaWNlAHNlY3JldA==\r\nb AUTHENTICATE PLAIN =\r\n");
  REQUIRE(events.size() == 2);
  check_command(events[0], "a", CommandKind::Authenticate, "AUTHENTICATE");
  CHECK(events[0].command.mechanism == "PLAIN");
  CHECK(events[0].command.initial_response == "AGFsaWNlAHNlY3JldA==");
  check_command(events[1], "b", CommandKind::Authenticate, "AUTHENTICATE");
  CHECK(events[1].command.initial_response == "=");
}

TEST_CASE("a SASL line is never parsed as a command, and the cancel star comes back as is",
          "[imap]") {
  const auto events = parse_everywhere(
      "a AUTHENTICATE PLAIN\r\nb LOGOUT\r\nc AUTHENTICATE PLAIN\r\n*\r\n"
      "d AUTHENTICATE PLAIN\n\ne NOOP\n");
  REQUIRE(events.size() == 7);
  check_command(events[0], "a", CommandKind::Authenticate, "AUTHENTICATE");
  check_sasl_line(events[1], "b LOGOUT");
  check_command(events[2], "c", CommandKind::Authenticate, "AUTHENTICATE");
  check_sasl_line(events[3], "*");
  check_command(events[4], "d", CommandKind::Authenticate, "AUTHENTICATE");
  check_sasl_line(events[5], "");
  check_command(events[6], "e", CommandKind::Noop, "NOOP");
}

TEST_CASE("a multi-step SASL exchange, completed or cancelled", "[imap]") {
  Options two_steps;
  two_steps.sasl_steps = 2;
  const auto events = parse_everywhere(
      "a AUTHENTICATE LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n"
      "b AUTHENTICATE LOGIN dXNlcg==\r\ncGFzcw==\r\n"
      "c AUTHENTICATE LOGIN\r\n*\r\nd NOOP\r\n",
      two_steps);
  REQUIRE(events.size() == 8);
  check_command(events[0], "a", CommandKind::Authenticate, "AUTHENTICATE");
  CHECK(events[0].command.mechanism == "LOGIN");
  check_sasl_line(events[1], "dXNlcg==");
  check_sasl_line(events[2], "cGFzcw==");
  check_command(events[3], "b", CommandKind::Authenticate, "AUTHENTICATE");
  CHECK(events[3].command.initial_response == "dXNlcg==");
  check_sasl_line(events[4], "cGFzcw==");
  check_command(events[5], "c", CommandKind::Authenticate, "AUTHENTICATE");
  check_sasl_line(events[6], "*");
  check_command(events[7], "d", CommandKind::Noop, "NOOP");
}

TEST_CASE("malformed AUTHENTICATE", "[imap]") {
  const std::string bad_command =
      GENERATE(as<std::string>{}, "a AUTHENTICATE\r\n", "a AUTHENTICATE \"PLAIN\"\r\n",
               "a AUTHENTICATE PLAIN ir extra\r\n", "a AUTHENTICATE PLAIN \"ir\"\r\n",
               "a AUTHENTICATE PLAIN {4}\r\n", "a AUTHENTICATE PLAIN {4+}\r\nAA==\r\n");
  check_bad_then_noop(bad_command, "a");
}

TEST_CASE("unknown commands keep their upper-cased name, arguments are ignored", "[imap]") {
  const auto events =
      parse_everywhere("a SELECT INBOX\r\nb list \"\" *\r\nc XYZZY\r\nd FOO(bar)\r\ne x%y\r\n");
  REQUIRE(events.size() == 5);
  check_command(events[0], "a", CommandKind::Unknown, "SELECT");
  check_command(events[1], "b", CommandKind::Unknown, "LIST");
  check_command(events[2], "c", CommandKind::Unknown, "XYZZY");
  check_error(events[3], ErrorKind::BadSyntax, "d");
  check_error(events[4], ErrorKind::BadSyntax, "e");
}

TEST_CASE("literals in unknown commands", "[imap]") {
  // Synchronizing: no continuation, so the client sends no data; the next
  // line is a command of its own.
  const auto synchronizing = parse_everywhere("a APPEND INBOX {5}\r\nb NOOP\r\n");
  REQUIRE(synchronizing.size() == 2);
  check_error(synchronizing[0], ErrorKind::BadSyntax, "a");
  check_command(synchronizing[1], "b", CommandKind::Noop, "NOOP");

  // Non-synchronizing: the data comes anyway and must not run as a command.
  const auto pipelined =
      parse_everywhere("a APPEND INBOX " + literal("c LOGOUT\r\n", false) + "\r\nb NOOP\r\n");
  REQUIRE(pipelined.size() == 2);
  check_command(pipelined[0], "a", CommandKind::Unknown, "APPEND");
  check_command(pipelined[1], "b", CommandKind::Noop, "NOOP");
}

TEST_CASE("bad tags are a BAD with the star tag", "[imap]") {
  const std::string bad_command =
      GENERATE(as<std::string>{}, "+a NOOP\r\n", "a+ NOOP\r\n", "a*b NOOP\r\n", "a%b NOOP\r\n",
               "\"a\" NOOP\r\n", "(a NOOP\r\n", " a NOOP\r\n", "t\xC3\xA4g NOOP\r\n",
               "a\tb NOOP\r\n", "{1}\r\n", "{1+}\r\na NOOP\r\n");
  check_bad_then_noop(bad_command, "*");
  check_bad_then_noop(repeated('t', 65) + " NOOP\r\n", "*");
}

TEST_CASE("tags up to 64 characters, with a closing bracket, are fine", "[imap]") {
  const std::string longest = repeated('t', 64);
  const auto events = parse_everywhere(longest + " NOOP\r\na]1 NOOP\r\n");
  REQUIRE(events.size() == 2);
  check_command(events[0], longest, CommandKind::Noop, "NOOP");
  check_command(events[1], "a]1", CommandKind::Noop, "NOOP");
}

TEST_CASE("a tag without a command name", "[imap]") {
  check_bad_then_noop("a\r\n", "a");
  check_bad_then_noop("a \r\n", "a");
  check_bad_then_noop("a \"NOOP\"\r\n", "a");
  check_bad_then_noop("a NOOP extra\r\n", "a");
}

TEST_CASE("empty lines are a BAD with the star tag", "[imap]") {
  const auto events = parse_everywhere("\r\n\nz NOOP\r\n");
  REQUIRE(events.size() == 3);
  check_error(events[0], ErrorKind::BadSyntax, "*");
  check_error(events[1], ErrorKind::BadSyntax, "*");
  check_command(events[2], "z", CommandKind::Noop, "NOOP");
}

TEST_CASE("a command of exactly the limit is accepted", "[imap]") {
  Options small;
  small.max_command_bytes = 32;
  const std::string command =
      "a LOGIN " + literal("user", false) + " " + repeated('p', 11) + "\r\n";
  REQUIRE(command.size() == 32);
  const auto events = parse_everywhere(command + "b NOOP\r\n", small);
  REQUIRE(events.size() == 2);
  check_login(events[0], "a", "user", repeated('p', 11));
  check_command(events[1], "b", CommandKind::Noop, "NOOP");
}

TEST_CASE("a line over the limit is fatal", "[imap]") {
  Options small;
  small.max_command_bytes = 32;
  const auto events =
      parse_everywhere("a NOOP\r\nb LOGIN u " + repeated('p', 40) + "\r\nc NOOP\r\n", small);
  REQUIRE(events.size() == 2);
  check_command(events[0], "a", CommandKind::Noop, "NOOP");
  check_error(events[1], ErrorKind::LineTooLong, "*");
  CHECK(events[1].error.fatal());
}

TEST_CASE("a line over the limit fails before its LF arrives", "[imap]") {
  Parser parser(32);
  for (int i = 0; i < 32; ++i) {
    parser.feed("x");
    REQUIRE(parser.next().type == Type::NeedMore);
    REQUIRE(parser.buffered_bytes() == static_cast<std::size_t>(i + 1));
  }
  parser.feed("x");
  const Event event = parser.next();
  check_error(event, ErrorKind::LineTooLong, "*");
  CHECK(parser.buffered_bytes() == 0);

  // From now on nothing is kept and nothing comes out.
  parser.feed("a NOOP\r\n");
  CHECK(parser.buffered_bytes() == 0);
  CHECK(parser.next().type == Type::NeedMore);
  CHECK(parser.next().type == Type::NeedMore);
}

TEST_CASE("literals count toward the command limit", "[imap]") {
  Options small;
  small.max_command_bytes = 64;
  const std::string thirty = repeated('x', 30);

  const auto non_synchronizing = parse_everywhere(
      "a LOGIN " + literal(thirty, false) + " " + literal(thirty, false) + "\r\n", small);
  REQUIRE(non_synchronizing.size() == 1);
  check_error(non_synchronizing[0], ErrorKind::LineTooLong, "a");

  // No continuation is offered for data that could not fit.
  const auto synchronizing = parse_everywhere(
      "a LOGIN " + literal(thirty) + " " + literal(thirty) + "\r\nb NOOP\r\n", small);
  REQUIRE(synchronizing.size() == 2);
  check_continuation(synchronizing[0]);
  check_error(synchronizing[1], ErrorKind::LineTooLong, "a");

  // The line after a literal counts too, even before its LF.
  const auto long_tail =
      parse_everywhere("a LOGIN " + literal(thirty) + " " + repeated('p', 30), small);
  REQUIRE(long_tail.size() == 2);
  check_continuation(long_tail[0]);
  check_error(long_tail[1], ErrorKind::LineTooLong, "a");
}

TEST_CASE("two large literals exceed the default limit", "[imap]") {
  const std::string big = repeated('x', 5000);
  const std::string input = "a LOGIN " + literal(big, false) + " " + literal(big, false) + "\r\n";
  const auto events = parse_chunks({input}, Options{});
  REQUIRE(events.size() == 1);
  check_error(events[0], ErrorKind::LineTooLong, "a");
  const std::string_view whole = input;
  std::vector<std::string_view> chunks;
  for (std::size_t pos = 0; pos < whole.size(); pos += 7) chunks.push_back(whole.substr(pos, 7));
  CHECK(describe_all(parse_chunks(chunks, Options{})) == describe_all(events));
}

TEST_CASE("a literal larger than the limit is fatal, without continuation", "[imap]") {
  const auto too_large = parse_everywhere("a LOGIN {100000}\r\nb NOOP\r\n");
  REQUIRE(too_large.size() == 1);
  check_error(too_large[0], ErrorKind::LiteralTooLarge, "a");
  CHECK(too_large[0].error.fatal());

  const auto non_synchronizing = parse_everywhere("a LOGIN u {8193+}\r\nb NOOP\r\n");
  REQUIRE(non_synchronizing.size() == 1);
  check_error(non_synchronizing[0], ErrorKind::LiteralTooLarge, "a");

  const auto absurd = parse_everywhere("{99999999999999999999999999}\r\nb NOOP\r\n");
  REQUIRE(absurd.size() == 1);
  check_error(absurd[0], ErrorKind::LiteralTooLarge, "*");
}

TEST_CASE("a SASL line over the limit is fatal", "[imap]") {
  Options small;
  small.max_command_bytes = 32;
  const auto events =
      parse_everywhere("a AUTHENTICATE PLAIN\r\n" + repeated('A', 40) + "\r\nb NOOP\r\n", small);
  REQUIRE(events.size() == 2);
  check_command(events[0], "a", CommandKind::Authenticate, "AUTHENTICATE");
  check_error(events[1], ErrorKind::LineTooLong, "*");
}

TEST_CASE("an incomplete command waits for more", "[imap]") {
  Parser parser;
  parser.feed("a NOO");
  CHECK(parser.next().type == Type::NeedMore);
  parser.feed("P\r");
  CHECK(parser.next().type == Type::NeedMore);
  parser.feed("\n");
  check_command(parser.next(), "a", CommandKind::Noop, "NOOP");
  CHECK(parser.next().type == Type::NeedMore);
  CHECK(parser.buffered_bytes() == 0);
}

TEST_CASE("discard_buffered after STARTTLS drops pipelined plaintext", "[imap]") {
  Parser parser;
  parser.feed("a STARTTLS\r\nb LOGIN u p\r\n");
  check_command(parser.next(), "a", CommandKind::StartTls, "STARTTLS");
  parser.discard_buffered();
  CHECK(parser.buffered_bytes() == 0);
  CHECK(parser.next().type == Type::NeedMore);

  parser.feed("c NOOP\r\n");
  check_command(parser.next(), "c", CommandKind::Noop, "NOOP");
  CHECK(parser.next().type == Type::NeedMore);
}

TEST_CASE("discard_buffered also drops a command half read", "[imap]") {
  Parser parser;
  parser.feed("a LOGIN {10}\r\nabc");
  check_continuation(parser.next());
  CHECK(parser.next().type == Type::NeedMore);
  parser.discard_buffered();

  parser.feed("b NOOP\r\n");
  check_command(parser.next(), "b", CommandKind::Noop, "NOOP");
}
