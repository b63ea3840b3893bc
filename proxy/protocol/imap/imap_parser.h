// Pure, incremental, bounded parser for the IMAP commands a client may send
// before it is logged in (RFC 9051 / RFC 3501 pre-auth subset).
//
// Bytes go in with feed(); events come out of next(), one at a time, until it
// answers NeedMore. No I/O happens here: the session decides what to write.
// Feeding the same bytes in any split (one byte at a time included) yields the
// same sequence of events; tests/unit/test_imap_parser.cc proves it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/secret.h"

namespace podgate::imap {

enum class CommandKind {
  Capability,
  Noop,
  Logout,
  StartTls,
  Id,
  Login,
  Authenticate,
  Unknown,  // any other command name, well-formed tag: the session answers BAD
};

struct Command {
  std::string tag;
  CommandKind kind = CommandKind::Unknown;
  std::string name;  // the command name, upper-cased ("LOGIN", "SELECT", ...)

  // LOGIN: both astrings decoded (atom, quoted string or literal).
  std::string user;
  Secret password;

  // AUTHENTICATE: mechanism upper-cased; the SASL-IR initial response exactly
  // as sent (base64 text, or "=" for an empty response), absent when not sent.
  std::string mechanism;
  std::optional<Secret> initial_response;

  // ID: the field/value pairs ("ID NIL" gives none); a NIL value is empty.
  std::vector<std::pair<std::string, std::string>> id_fields;
};

enum class ErrorKind {
  LineTooLong,      // the command (line plus literals) exceeded max_command_bytes: fatal
  LiteralTooLarge,  // a literal announced more than fits in max_command_bytes: fatal
  BadSyntax,        // malformed command; the rest of its line was skipped: not fatal
};

struct Error {
  ErrorKind kind = ErrorKind::BadSyntax;
  std::string tag;      // the command's tag when it could be read, otherwise "*"
  std::string message;  // short human text for the BAD answer, no user data in it
  bool fatal() const { return kind != ErrorKind::BadSyntax; }
};

struct Event {
  enum class Type {
    NeedMore,             // feed more bytes
    Command,              // `command` is filled in
    LiteralContinuation,  // a synchronizing literal {n} was announced: send "+ ..."
    SaslResponse,         // a line answering an AUTHENTICATE challenge: `sasl_line`
    Error,                // `error` is filled in
  };
  Type type = Type::NeedMore;
  Command command;
  Error error;
  Secret sasl_line;  // without CRLF; "*" means the client cancelled
};

class Parser {
 public:
  static constexpr std::size_t kDefaultMaxCommandBytes = 8192;

  explicit Parser(std::size_t max_command_bytes = kDefaultMaxCommandBytes);
  // What it has read may hold a password: it is wiped as it is consumed,
  // and when the parser goes.
  ~Parser();
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Appends bytes from the client. Never fails; limits are reported by next().
  void feed(std::string_view bytes);

  // The next event from the bytes fed so far.
  Event next();

  // The next complete line is an answer to an AUTHENTICATE challenge and comes
  // back as Event::SaslResponse instead of being parsed as a command. Applies
  // to one line; call again for each further challenge.
  void expect_sasl_response();

  // Forgets everything buffered and not yet returned (STARTTLS: plaintext
  // pipelined behind the command must never run) and any partial command.
  void discard_buffered();

  // Hands over the bytes next() has not consumed and empties the parser. For
  // the moment a login succeeds: whatever the client pipelined behind it is
  // no longer pre-auth IMAP but the pod's to read. Call it between commands.
  std::string take_unparsed();

  // Bytes held that next() has not consumed yet; bounded by max_command_bytes
  // plus the size of the last feed().
  std::size_t buffered_bytes() const;

 private:
  // One lexical piece of the command being assembled. A literal becomes a
  // String token as soon as it is announced, so the grammar never needs to know
  // how a string was sent.
  struct Token {
    enum class Kind { Atom, String, OpenParen, CloseParen, Space, Invalid };
    Kind kind = Kind::Invalid;
    std::string text;  // Atom and String only: the decoded bytes
  };
  // Walks tokens along the command grammar (defined in imap_parser.cc).
  class Grammar;

  static void append_tokens(std::string_view line, std::vector<Token>& tokens);

  std::optional<std::size_t> find_line_feed();
  bool consume_literal_bytes();
  std::optional<Event> on_line(std::string_view line);
  std::optional<Event> on_literal_announced(std::size_t size, bool synchronizing);
  Event finish_command();
  Event sasl_response(std::string_view line);
  Event fatal_error(ErrorKind kind);
  void start_next_command();
  void compact_buffer();

  std::size_t max_command_bytes_;
  std::string buffer_;
  std::size_t pos_ = 0;      // start of the bytes next() has not consumed
  std::size_t scanned_ = 0;  // bytes after pos_ already known to hold no line feed
  bool sasl_line_expected_ = false;
  bool fatal_ = false;
  // The command read so far: its tokens, its size on the wire, and how many
  // bytes of the literal it is in the middle of are still to come.
  std::vector<Token> tokens_;
  std::size_t command_bytes_ = 0;
  std::size_t literal_remaining_ = 0;
};

}  // namespace podgate::imap
