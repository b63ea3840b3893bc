// How the parser reads a command: protocol::LineFramer hands it one line at a
// time, and each line is judged on its own. POP3 has no literals and no
// quoting, so a command never spans lines and the grammar is a split on single
// spaces.
//
// Errors are only found at the end of a line, never in the middle of one, so
// the line is already consumed when the error is reported and where the input
// was split cannot change which error comes out. The one exception is the
// size limit, which the framer checks on partial lines too.
#include "proxy/protocol/pop3/pop3_parser.h"

#include <algorithm>
#include <utility>

#include "proxy/protocol/ascii.h"

namespace podgate::pop3 {
namespace {

using protocol::upper_cased;

// RFC 4422 section 3.1: a mechanism name is 1 to 20 of A-Z, 0-9, "-" and "_".
constexpr std::size_t kMaxMechanismLength = 20;

// Fixed texts: an error answer must never echo what the client sent.
constexpr const char* kInvalidCharacters = "Invalid characters in command";
constexpr const char* kInvalidCommand = "Invalid command";
constexpr const char* kInvalidArguments = "Invalid arguments";
constexpr const char* kLineTooLong = "Command line too long";

bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// CTL of RFC 5234; char may be signed, so 8-bit bytes are not caught here.
bool is_control(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

// Every POP3 keyword, standard or extension, is 3 or 4 letters (RFC 1939
// section 3); other "keywords" are garbage rather than commands we lack.
bool is_well_formed_keyword(std::string_view keyword) {
  return keyword.size() >= 3 && keyword.size() <= 4 &&
         std::all_of(keyword.begin(), keyword.end(), is_letter);
}

// UTF-8 names are allowed (RFC 6856); a space would make two arguments.
bool is_valid_user(std::string_view user) {
  return !user.empty() &&
         std::none_of(user.begin(), user.end(), [](char c) { return c == ' ' || is_control(c); });
}

bool is_valid_mechanism(std::string_view mechanism) {
  return !mechanism.empty() && mechanism.size() <= kMaxMechanismLength &&
         std::all_of(mechanism.begin(), mechanism.end(),
                     [](char c) { return is_letter(c) || is_digit(c) || c == '-' || c == '_'; });
}

// Only the alphabet is checked here; the session decodes strictly.
bool is_valid_initial_response(std::string_view response) {
  return !response.empty() && std::all_of(response.begin(), response.end(), [](char c) {
    return is_letter(c) || is_digit(c) || c == '+' || c == '/' || c == '=';
  });
}

CommandKind kind_of(std::string_view upper_name) {
  constexpr std::pair<std::string_view, CommandKind> kKnownCommands[] = {
      {"CAPA", CommandKind::Capa}, {"STLS", CommandKind::Stls}, {"USER", CommandKind::User},
      {"PASS", CommandKind::Pass}, {"AUTH", CommandKind::Auth}, {"QUIT", CommandKind::Quit},
      {"NOOP", CommandKind::Noop},
  };
  for (const auto& [name, kind] : kKnownCommands) {
    if (name == upper_name) return kind;
  }
  return CommandKind::Unknown;
}

Event error_event(ErrorKind kind, const char* message) {
  Event event;
  event.type = Event::Type::Error;
  event.error = Error{kind, message};
  return event;
}

Event sasl_response(std::string_view line) {
  Event event;
  event.type = Event::Type::SaslResponse;
  event.sasl_line = Secret(line);
  return event;
}

// AUTH [SP mechanism [SP initial-response]]
bool parse_auth_arguments(std::optional<std::string_view> arguments, Command& command) {
  if (!arguments) return true;
  const std::size_t space = arguments->find(' ');
  const std::string_view mechanism = arguments->substr(0, space);
  if (!is_valid_mechanism(mechanism)) return false;
  command.mechanism = upper_cased(mechanism);
  if (space == std::string_view::npos) return true;
  const std::string_view initial_response = arguments->substr(space + 1);
  if (!is_valid_initial_response(initial_response)) return false;
  command.initial_response.emplace(initial_response);
  return true;
}

// `arguments` is absent when the keyword ends the line, and empty when a
// space does: "NOOP " has an (invalid) empty argument.
bool parse_arguments(std::optional<std::string_view> arguments, Command& command) {
  switch (command.kind) {
    case CommandKind::Capa:
    case CommandKind::Stls:
    case CommandKind::Quit:
    case CommandKind::Noop:
      return !arguments;
    case CommandKind::User:
      if (!arguments || !is_valid_user(*arguments)) return false;
      command.argument = *arguments;
      return true;
    case CommandKind::Pass:
      if (!arguments || arguments->empty()) return false;
      command.password = Secret(*arguments);
      return true;
    case CommandKind::Auth:
      return parse_auth_arguments(arguments, command);
    case CommandKind::Unknown:
      return true;  // ignored: the session refuses the command anyway
  }
  return false;
}

Event parse_command(std::string_view line) {
  if (line.find_first_of(std::string_view("\0\r", 2)) != std::string_view::npos) {
    return error_event(ErrorKind::BadSyntax, kInvalidCharacters);
  }
  const std::size_t space = line.find(' ');
  const std::string_view keyword = line.substr(0, space);
  Event event;
  Command& command = event.command;
  command.name = upper_cased(keyword);
  command.kind = kind_of(command.name);
  if (command.kind == CommandKind::Unknown && !is_well_formed_keyword(keyword)) {
    return error_event(ErrorKind::BadSyntax, kInvalidCommand);
  }
  std::optional<std::string_view> arguments;
  if (space != std::string_view::npos) arguments = line.substr(space + 1);
  if (!parse_arguments(arguments, command)) {
    return error_event(ErrorKind::BadSyntax, kInvalidArguments);
  }
  event.type = Event::Type::Command;
  return event;
}

}  // namespace

Event Parser::next() {
  using Kind = protocol::FramedLine::Kind;
  const protocol::FramedLine line = framer_.next_line();
  switch (line.kind) {
    case Kind::NeedMore:
      return Event{};
    case Kind::TooLong:
      return error_event(ErrorKind::LineTooLong, kLineTooLong);
    case Kind::SaslResponse:
      return sasl_response(line.text);
    case Kind::Line:
      return parse_command(line.text);
  }
  return Event{};
}

}  // namespace podgate::pop3
