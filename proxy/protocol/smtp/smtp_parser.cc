// How the parser reads a command: protocol::LineFramer hands it one line at a
// time, and each line is judged on its own. Pre-auth SMTP has no literals and
// no multi-line commands (DATA's message is only sent after a 354, which
// comes from the pod once the client is authenticated), so a command never
// spans lines.
//
// Errors are only found at the end of a line, never in the middle of one, so
// the line is already consumed when the error is reported and where the input
// was split cannot change which error comes out. The one exception is the
// size limit, which the framer checks on partial lines too.
#include "proxy/protocol/smtp/smtp_parser.h"

#include <algorithm>
#include <utility>

#include "proxy/protocol/ascii.h"

namespace podgate::smtp {
namespace {

using protocol::upper_cased;

// RFC 4422 section 3.1: a mechanism name is 1 to 20 of A-Z, 0-9, "-" and "_".
constexpr std::size_t kMaxMechanismLength = 20;
// Every SMTP verb, extensions included (STARTTLS, XFORWARD), is far shorter;
// the bound keeps Command::name small for answers and logs.
constexpr std::size_t kMaxVerbLength = 20;
// RFC 5321 section 4.5.3.1.2; an address literal is shorter still.
constexpr std::size_t kMaxDomainLength = 255;

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

// Printable ASCII without space; char may be signed, so 8-bit bytes fail too.
bool is_graphic(char c) {
  return c > ' ' && c < 0x7f;
}

// RFC 5321 Keyword (Ldh-str), starting with a letter as every verb does.
bool is_well_formed_verb(std::string_view verb) {
  return !verb.empty() && verb.size() <= kMaxVerbLength && is_letter(verb.front()) &&
         verb.back() != '-' && std::all_of(verb.begin(), verb.end(), [](char c) {
           return is_letter(c) || is_digit(c) || c == '-';
         });
}

// Domain or address literal, not checked further: clients send all kinds of
// names (underscores, NetBIOS names), and refusing them would only lock those
// clients out. One printable ASCII word is what the pod's EHLO and XCLIENT
// HELO= can carry; before SMTPUTF8 is negotiated the name is ASCII anyway.
bool is_valid_helo_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxDomainLength &&
         std::all_of(name.begin(), name.end(), is_graphic);
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

// RFC 3030: chunk-size [SP end-marker], end-marker = "LAST".
bool is_valid_bdat_arguments(std::string_view arguments) {
  const std::size_t space = arguments.find(' ');
  const std::string_view size = arguments.substr(0, space);
  if (size.empty() || !std::all_of(size.begin(), size.end(), is_digit)) return false;
  return space == std::string_view::npos || upper_cased(arguments.substr(space + 1)) == "LAST";
}

CommandKind kind_of(std::string_view upper_name) {
  constexpr std::pair<std::string_view, CommandKind> kKnownCommands[] = {
      {"EHLO", CommandKind::Ehlo}, {"HELO", CommandKind::Helo}, {"STARTTLS", CommandKind::StartTls},
      {"AUTH", CommandKind::Auth}, {"RSET", CommandKind::Rset}, {"NOOP", CommandKind::Noop},
      {"QUIT", CommandKind::Quit}, {"MAIL", CommandKind::Mail}, {"RCPT", CommandKind::Rcpt},
      {"DATA", CommandKind::Data}, {"BDAT", CommandKind::Bdat},
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

// AUTH SP mechanism [SP initial-response]
bool parse_auth_arguments(std::string_view arguments, Command& command) {
  const std::size_t space = arguments.find(' ');
  const std::string_view mechanism = arguments.substr(0, space);
  if (!is_valid_mechanism(mechanism)) return false;
  command.mechanism = upper_cased(mechanism);
  if (space == std::string_view::npos) return true;
  const std::string_view initial_response = arguments.substr(space + 1);
  if (!is_valid_initial_response(initial_response)) return false;
  command.initial_response.emplace(initial_response);
  return true;
}

// MAIL FROM:<reverse-path> and RCPT TO:<forward-path>, with parameters. The
// path itself is the pod's to judge once the client is authenticated; here it
// must only be there.
bool has_path_after(std::string_view arguments, std::string_view upper_prefix) {
  return protocol::istarts_with(arguments, upper_prefix) && arguments.size() > upper_prefix.size();
}

// `arguments` is absent when the verb ends the line, and empty when a space
// does: "NOOP " has an (invalid) empty argument.
bool parse_arguments(std::optional<std::string_view> arguments, Command& command) {
  switch (command.kind) {
    case CommandKind::StartTls:
    case CommandKind::Rset:
    case CommandKind::Quit:
    case CommandKind::Data:
      return !arguments;
    case CommandKind::Ehlo:
    case CommandKind::Helo:
      if (!arguments || !is_valid_helo_name(*arguments)) return false;
      break;
    case CommandKind::Auth:
      return arguments && parse_auth_arguments(*arguments, command);
    case CommandKind::Noop:
      if (arguments && arguments->empty()) return false;
      break;
    case CommandKind::Mail:
      if (!arguments || !has_path_after(*arguments, "FROM:")) return false;
      break;
    case CommandKind::Rcpt:
      if (!arguments || !has_path_after(*arguments, "TO:")) return false;
      break;
    case CommandKind::Bdat:
      if (!arguments || !is_valid_bdat_arguments(*arguments)) return false;
      break;
    case CommandKind::Unknown:
      break;  // not judged: the session refuses the command anyway
  }
  if (arguments) command.argument = *arguments;
  return true;
}

Event parse_command(std::string_view line) {
  if (line.find_first_of(std::string_view("\0\r", 2)) != std::string_view::npos) {
    return error_event(ErrorKind::BadSyntax, kInvalidCharacters);
  }
  const std::size_t space = line.find(' ');
  const std::string_view verb = line.substr(0, space);
  if (!is_well_formed_verb(verb)) return error_event(ErrorKind::BadSyntax, kInvalidCommand);
  Event event;
  Command& command = event.command;
  command.name = upper_cased(verb);
  command.kind = kind_of(command.name);
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

}  // namespace podgate::smtp
