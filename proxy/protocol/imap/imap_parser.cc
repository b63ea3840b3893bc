// How the parser reads a command: bytes are taken a line at a time (up to LF).
// A line ending in a literal announcement "{n}" or "{n+}" does not end the
// command: the next n bytes are the literal and the command goes on with the
// line after them. Every line is cut into tokens as it arrives, so nothing is
// scanned twice; the grammar runs over the tokens when the command is complete,
// or early, to decide whether a synchronizing literal may be invited.
//
// Errors are only found at the end of a line, never in the middle of one, so
// the rest of an offending line is already consumed when the error is reported
// and where the input was split cannot change which error comes out. The one
// exception is the size limit, which is checked on partial lines too: a line
// that is already too long can only get longer.
#include "proxy/protocol/imap/imap_parser.h"

#include <algorithm>

#include "proxy/protocol/ascii.h"

namespace podgate::imap {
namespace {

using protocol::upper_cased;

// RFC 2971 allows at most 30 field/value pairs in ID.
constexpr std::size_t kMaxIdPairs = 30;
// RFC 3501 sets no limit; a short one keeps answers and logs small.
constexpr std::size_t kMaxTagLength = 64;
constexpr const char* kUntagged = "*";

// ASTRING-CHAR of RFC 3501: CHAR without CTL and atom-specials, but with "]".
bool is_astring_char(char c) {
  if (c <= ' ' || c >= 0x7f) return false;  // char may be signed: 8-bit bytes fail here too
  switch (c) {
    case '(':
    case ')':
    case '{':
    case '%':
    case '*':
    case '"':
    case '\\':
      return false;
    default:
      return true;
  }
}

bool is_valid_tag(std::string_view atom) {
  return !atom.empty() && atom.size() <= kMaxTagLength && atom.find('+') == std::string_view::npos;
}

CommandKind kind_of(std::string_view upper_name) {
  constexpr std::pair<std::string_view, CommandKind> kKnownCommands[] = {
      {"CAPABILITY", CommandKind::Capability},
      {"NOOP", CommandKind::Noop},
      {"LOGOUT", CommandKind::Logout},
      {"STARTTLS", CommandKind::StartTls},
      {"ID", CommandKind::Id},
      {"LOGIN", CommandKind::Login},
      {"AUTHENTICATE", CommandKind::Authenticate},
  };
  for (const auto& [name, kind] : kKnownCommands) {
    if (name == upper_name) return kind;
  }
  return CommandKind::Unknown;
}

// Returns the end of the atom starting at line[pos].
std::size_t atom_end(std::string_view line, std::size_t pos) {
  while (pos < line.size() && is_astring_char(line[pos])) ++pos;
  return pos;
}

// Decodes the quoted string whose opening quote is at line[pos] into `text`.
// Returns the position after the closing quote, or nullopt when the string is
// unterminated or uses an escape other than \" and \\.
std::optional<std::size_t> read_quoted(std::string_view line, std::size_t pos, std::string& text) {
  for (std::size_t i = pos + 1; i < line.size(); ++i) {
    char c = line[i];
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (++i == line.size() || (line[i] != '"' && line[i] != '\\')) return std::nullopt;
      c = line[i];
    } else if (c == '\0' || c == '\r') {
      return std::nullopt;
    }
    text.push_back(c);
  }
  return std::nullopt;
}

struct LiteralSpec {
  std::size_t size = 0;  // saturates at `cap`: anything larger is refused anyway
  bool synchronizing = true;
};

// Takes a trailing "{n}" or "{n+}" off `line`.
std::optional<LiteralSpec> take_literal_spec(std::string_view& line, std::size_t cap) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  std::size_t digits_end = line.size() - 1;
  LiteralSpec spec;
  if (digits_end > 0 && line[digits_end - 1] == '+') {
    spec.synchronizing = false;
    --digits_end;
  }
  std::size_t digits_begin = digits_end;
  while (digits_begin > 0 && line[digits_begin - 1] >= '0' && line[digits_begin - 1] <= '9') {
    --digits_begin;
  }
  if (digits_begin == digits_end || digits_begin == 0 || line[digits_begin - 1] != '{') {
    return std::nullopt;
  }
  for (std::size_t i = digits_begin; i < digits_end; ++i) {
    spec.size = std::min(spec.size * 10 + static_cast<std::size_t>(line[i] - '0'), cap);
  }
  line.remove_suffix(line.size() - (digits_begin - 1));
  return spec;
}

// The line without its LF and, when there is one, the CR before it.
std::string_view line_content(std::string_view buffer, std::size_t begin, std::size_t line_feed) {
  std::string_view line = buffer.substr(begin, line_feed - begin);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

Event error_event(ErrorKind kind, std::string tag, std::string message) {
  Event event;
  event.type = Event::Type::Error;
  event.error = Error{kind, std::move(tag), std::move(message)};
  return event;
}

}  // namespace

// Walks a command's tokens along the grammar of RFC 3501/9051 and fills in a
// Command. Run over the tokens of a command that stops just before a literal,
// it also tells whether a string may stand there, i.e. whether the literal
// deserves a continuation.
class Parser::Grammar {
 public:
  enum class Verdict {
    Valid,
    BadTag,
    NoCommandName,
    BadArguments,
    WantsString,  // the tokens ran out where a string could follow
  };

  explicit Grammar(const std::vector<Token>& tokens) : tokens_(tokens) {}

  Verdict match(Command& command) {
    if (!take_tag(command.tag)) return Verdict::BadTag;
    std::string name;
    if (!take(Token::Kind::Space) || !take_atom(name)) return Verdict::NoCommandName;
    command.name = upper_cased(name);
    command.kind = kind_of(command.name);
    if (match_arguments(command)) return Verdict::Valid;
    return at_end() && string_fits_at_end_ ? Verdict::WantsString : Verdict::BadArguments;
  }

  // Fixed texts: an error answer must never echo what the client sent.
  static const char* message_for(Verdict verdict) {
    switch (verdict) {
      case Verdict::BadTag:
        return "Missing or invalid tag";
      case Verdict::NoCommandName:
        return "Missing command name";
      default:
        return "Invalid arguments";
    }
  }

 private:
  bool match_arguments(Command& command) {
    switch (command.kind) {
      case CommandKind::Capability:
      case CommandKind::Noop:
      case CommandKind::Logout:
      case CommandKind::StartTls:
        return at_end();
      case CommandKind::Login: {
        std::string password;
        bool valid = take(Token::Kind::Space) && take_astring(command.user) &&
                     take(Token::Kind::Space) && take_astring(password) && at_end();
        command.password = Secret(std::move(password));
        return valid;
      }
      case CommandKind::Id:
        return take(Token::Kind::Space) && match_id_list(command.id_fields) && at_end();
      case CommandKind::Authenticate:
        return match_authenticate(command);
      case CommandKind::Unknown:
        // Arguments are ignored, but the name must be a whole atom.
        return at_end() || take(Token::Kind::Space);
    }
    return false;
  }

  // "NIL" or "(" [string SP nstring *(SP string SP nstring)] ")"
  bool match_id_list(std::vector<std::pair<std::string, std::string>>& fields) {
    if (take_nil()) return true;
    if (!take(Token::Kind::OpenParen)) return false;
    if (take(Token::Kind::CloseParen)) return true;
    while (true) {
      std::string field;
      std::string value;
      if (!take_string(field) || !take(Token::Kind::Space) || !take_nstring(value)) return false;
      fields.emplace_back(std::move(field), std::move(value));
      if (take(Token::Kind::CloseParen)) return true;
      if (fields.size() == kMaxIdPairs || !take(Token::Kind::Space)) return false;
    }
  }

  // SP mechanism [SP initial-response]; the response is base64 or "=", both atoms.
  bool match_authenticate(Command& command) {
    std::string mechanism;
    if (!take(Token::Kind::Space) || !take_atom(mechanism)) return false;
    command.mechanism = upper_cased(mechanism);
    if (at_end()) return true;
    std::string initial_response;
    if (!take(Token::Kind::Space) || !take_atom(initial_response) || !at_end()) return false;
    command.initial_response.emplace(std::move(initial_response));
    return true;
  }

  // The tag must be followed by a space or nothing: "a*" is not the tag "a".
  bool take_tag(std::string& tag) {
    std::string atom;
    if (!take_atom(atom) || !is_valid_tag(atom)) return false;
    if (!at_end() && tokens_[next_].kind != Token::Kind::Space) return false;
    tag = std::move(atom);
    return true;
  }

  bool take(Token::Kind kind) {
    return take_if(false, [kind](const Token& token) { return token.kind == kind; });
  }

  bool take_atom(std::string& text) {
    return take_text(text, false,
                     [](const Token& token) { return token.kind == Token::Kind::Atom; });
  }

  bool take_string(std::string& text) {
    return take_text(text, true,
                     [](const Token& token) { return token.kind == Token::Kind::String; });
  }

  bool take_astring(std::string& text) {
    return take_text(text, true, [](const Token& token) {
      return token.kind == Token::Kind::Atom || token.kind == Token::Kind::String;
    });
  }

  bool take_nil() {
    return take_if(false, [](const Token& token) {
      return token.kind == Token::Kind::Atom && protocol::iequals(token.text, "NIL");
    });
  }

  // A NIL value reads as empty.
  bool take_nstring(std::string& text) {
    if (take_nil()) return true;
    return take_string(text);
  }

  template <typename Accepts>
  bool take_text(std::string& text, bool string_fits, Accepts accepts) {
    const std::size_t taken = next_;
    if (!take_if(string_fits, accepts)) return false;
    text = tokens_[taken].text;
    return true;
  }

  // Consumes the next token when `accepts` says so. At the end of the tokens,
  // records whether a string could have stood there: a literal announced at
  // that point is then welcome.
  template <typename Accepts>
  bool take_if(bool string_fits, Accepts accepts) {
    if (at_end()) {
      string_fits_at_end_ = string_fits;
      return false;
    }
    if (!accepts(tokens_[next_])) return false;
    ++next_;
    return true;
  }

  bool at_end() const { return next_ == tokens_.size(); }

  const std::vector<Token>& tokens_;
  std::size_t next_ = 0;
  bool string_fits_at_end_ = false;
};

Parser::Parser(std::size_t max_command_bytes) : max_command_bytes_(max_command_bytes) {}

Parser::~Parser() {
  wipe(buffer_);
  start_next_command();
}

void Parser::feed(std::string_view bytes) {
  // After a fatal error the connection is going away; holding on to more
  // input would only let a client grow our memory.
  if (!fatal_) append_wiping(buffer_, bytes);
}

Event Parser::next() {
  while (!fatal_) {
    if (literal_remaining_ > 0 && !consume_literal_bytes()) break;
    const std::optional<std::size_t> line_feed = find_line_feed();
    const std::size_t line_end = line_feed ? *line_feed + 1 : buffer_.size();
    const std::size_t line_bytes = line_end - pos_;
    if (command_bytes_ + line_bytes > max_command_bytes_) {
      return fatal_error(ErrorKind::LineTooLong);
    }
    if (!line_feed) break;
    command_bytes_ += line_bytes;
    const std::string_view line = line_content(buffer_, pos_, *line_feed);
    pos_ = line_end;
    scanned_ = 0;
    if (std::optional<Event> event = on_line(line)) return std::move(*event);
  }
  compact_buffer();
  return Event{};
}

void Parser::expect_sasl_response() {
  sasl_line_expected_ = true;
}

void Parser::discard_buffered() {
  wipe(buffer_);
  pos_ = 0;
  scanned_ = 0;
  start_next_command();
}

std::string Parser::take_unparsed() {
  std::string unparsed = buffer_.substr(pos_);
  discard_buffered();
  return unparsed;
}

std::size_t Parser::buffered_bytes() const {
  return buffer_.size() - pos_;
}

void Parser::append_tokens(std::string_view line, std::vector<Token>& tokens) {
  std::size_t pos = 0;
  while (pos < line.size()) {
    const char c = line[pos];
    Token token;
    if (c == ' ' || c == '(' || c == ')') {
      token.kind = c == ' '   ? Token::Kind::Space
                   : c == '(' ? Token::Kind::OpenParen
                              : Token::Kind::CloseParen;
      ++pos;
    } else if (c == '"') {
      std::optional<std::size_t> end = read_quoted(line, pos, token.text);
      if (!end) break;
      token.kind = Token::Kind::String;
      pos = *end;
    } else if (is_astring_char(c)) {
      const std::size_t end = atom_end(line, pos);
      token.kind = Token::Kind::Atom;
      token.text = line.substr(pos, end - pos);
      pos = end;
    } else {
      break;
    }
    tokens.push_back(std::move(token));
  }
  // A byte no token can start with: only unknown commands, which ignore their
  // arguments, can still be valid, so the rest of the line is not looked at.
  if (pos < line.size()) tokens.push_back(Token{Token::Kind::Invalid, {}});
}

std::optional<std::size_t> Parser::find_line_feed() {
  const std::size_t found = buffer_.find('\n', pos_ + scanned_);
  if (found != std::string::npos) return found;
  scanned_ = buffer_.size() - pos_;
  return std::nullopt;
}

// Moves what has arrived of the current literal into its token; true once the
// literal is complete.
bool Parser::consume_literal_bytes() {
  const std::size_t count = std::min(literal_remaining_, buffer_.size() - pos_);
  Token& literal = tokens_.back();
  literal.text.append(buffer_, pos_, count);
  pos_ += count;
  command_bytes_ += count;
  literal_remaining_ -= count;
  if (literal_remaining_ > 0) return false;
  // CHAR8 excludes NUL; a NUL in a password would also corrupt SASL PLAIN.
  if (literal.text.find('\0') != std::string::npos) literal.kind = Token::Kind::Invalid;
  return true;
}

std::optional<Event> Parser::on_line(std::string_view line) {
  if (sasl_line_expected_) return sasl_response(line);
  std::optional<LiteralSpec> literal = take_literal_spec(line, max_command_bytes_ + 1);
  append_tokens(line, tokens_);
  if (!literal) return finish_command();
  return on_literal_announced(literal->size, literal->synchronizing);
}

std::optional<Event> Parser::on_literal_announced(std::size_t size, bool synchronizing) {
  if (size > max_command_bytes_) return fatal_error(ErrorKind::LiteralTooLarge);
  // At least the line feed ending the command must still come after it.
  if (command_bytes_ + size + 1 > max_command_bytes_) return fatal_error(ErrorKind::LineTooLong);
  if (synchronizing) {
    // The client waits for "+" before sending the literal, so a command that
    // cannot take a string here ends now. A non-synchronizing literal is on its
    // way regardless: it is read and the whole command judged at its end.
    Command command;
    const Grammar::Verdict verdict = Grammar(tokens_).match(command);
    if (verdict != Grammar::Verdict::WantsString) {
      const bool tag_readable = verdict != Grammar::Verdict::BadTag;
      Event event = error_event(ErrorKind::BadSyntax, tag_readable ? command.tag : kUntagged,
                                "Literal not allowed here");
      start_next_command();
      return event;
    }
  }
  tokens_.push_back(Token{Token::Kind::String, {}});
  tokens_.back().text.reserve(size);
  literal_remaining_ = size;
  if (!synchronizing) return std::nullopt;
  Event event;
  event.type = Event::Type::LiteralContinuation;
  return event;
}

Event Parser::finish_command() {
  Event event;
  const Grammar::Verdict verdict = Grammar(tokens_).match(event.command);
  if (verdict == Grammar::Verdict::Valid) {
    event.type = Event::Type::Command;
  } else {
    const bool tag_readable = verdict != Grammar::Verdict::BadTag;
    event = error_event(ErrorKind::BadSyntax, tag_readable ? event.command.tag : kUntagged,
                        Grammar::message_for(verdict));
  }
  start_next_command();
  return event;
}

Event Parser::sasl_response(std::string_view line) {
  Event event;
  event.type = Event::Type::SaslResponse;
  event.sasl_line = Secret(line);
  sasl_line_expected_ = false;
  start_next_command();
  return event;
}

Event Parser::fatal_error(ErrorKind kind) {
  Command command;
  const bool tag_readable = Grammar(tokens_).match(command) != Grammar::Verdict::BadTag;
  Event event =
      error_event(kind, tag_readable ? command.tag : kUntagged,
                  kind == ErrorKind::LiteralTooLarge ? "Literal too large" : "Command too long");
  fatal_ = true;
  discard_buffered();
  buffer_.shrink_to_fit();
  return event;
}

void Parser::start_next_command() {
  for (Token& token : tokens_) wipe(token.text);  // a LOGIN's password, decoded
  tokens_.clear();
  command_bytes_ = 0;
  literal_remaining_ = 0;
}

// Drops consumed bytes so the buffer holds no more than the unfinished line.
void Parser::compact_buffer() {
  if (pos_ == 0) return;
  erase_front(buffer_, pos_);
  pos_ = 0;
}

}  // namespace podgate::imap
