// Pure, incremental, bounded parser for the POP3 commands a client may send
// before it is logged in: RFC 1939 (USER, PASS, QUIT, NOOP), RFC 2449 (CAPA),
// RFC 2595 (STLS) and RFC 5034 (AUTH).
//
// Bytes go in with feed(); events come out of next(), one at a time, until it
// answers NeedMore. No I/O happens here: the session decides what to write.
// Feeding the same bytes in any split (one byte at a time included) yields the
// same sequence of events; tests/unit/test_pop3_parser.cc proves it. The API
// mirrors podgate::imap::Parser so both sessions drive their parser alike.
//
// What counts as a command line:
// - A line ends at LF; a CR right before it is dropped. A NUL anywhere in a
//   command line, or a CR anywhere else, makes it BadSyntax: such bytes have
//   no business in a POP3 command, and letting them through would only invite
//   the pod to read the line differently from us.
// - The keyword is everything up to the first space, compared without case.
//   A keyword this parser does not know comes back as CommandKind::Unknown
//   (the session answers -ERR) when it is 3 or 4 ASCII letters, the shape of
//   every POP3 keyword; anything else, the empty line included, is BadSyntax.
// - Arguments are separated by exactly one space; an empty argument (two
//   spaces, a trailing space) is BadSyntax. PASS is the exception: its
//   argument is the rest of the line, spaces included (RFC 1939 section 7).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/secret.h"
#include "proxy/protocol/line_framer.h"

namespace podgate::pop3 {

enum class CommandKind {
  Capa,
  Stls,
  User,
  Pass,
  Auth,
  Quit,
  Noop,
  Unknown,  // a well-formed keyword of another command: the session answers -ERR
};

struct Command {
  CommandKind kind = CommandKind::Unknown;
  std::string name;  // the keyword, upper-cased ("USER", "STAT", ...)

  // USER: the name (one argument, no spaces or control characters).
  // Every other command: empty.
  std::string argument;
  // PASS: everything after "PASS ", spaces included; never empty.
  Secret password;

  // AUTH: the SASL mechanism upper-cased, empty for a bare "AUTH" (which asks
  // for the list of mechanisms); the initial response exactly as sent (base64
  // text, or "=" for an empty response), absent when not sent.
  std::string mechanism;
  std::optional<Secret> initial_response;
};

enum class ErrorKind {
  LineTooLong,  // a line exceeded max_line_bytes: fatal, nothing more is parsed
  BadSyntax,    // malformed command; its line was consumed: not fatal
};

struct Error {
  ErrorKind kind = ErrorKind::BadSyntax;
  std::string message;  // short fixed text for the -ERR answer, no client data in it
  bool fatal() const { return kind != ErrorKind::BadSyntax; }
};

struct Event {
  enum class Type {
    NeedMore,      // feed more bytes
    Command,       // `command` is filled in
    SaslResponse,  // a line answering an AUTH challenge: `sasl_line`
    Error,         // `error` is filled in
  };
  Type type = Type::NeedMore;
  Command command;
  Error error;
  Secret sasl_line;  // without CRLF, otherwise as sent; "*" means the client cancelled
};

// The lines come from protocol::LineFramer, and feed(), discard_buffered(),
// take_unparsed() and buffered_bytes() are its own: see there for framing,
// the line limit and what survives a fatal error. This class adds POP3.
class Parser {
 public:
  static constexpr std::size_t kDefaultMaxLineBytes = 8192;

  // max_line_bytes bounds a line including its CRLF. RFC 2449 caps commands
  // at 255 octets, but RFC 5034 lets SASL responses run longer, so the
  // default leaves room for large GSSAPI-style tokens.
  explicit Parser(std::size_t max_line_bytes = kDefaultMaxLineBytes) : framer_(max_line_bytes) {}

  void feed(std::string_view bytes) { framer_.feed(bytes); }

  // The next event from the bytes fed so far.
  Event next();

  // The next complete line comes back as Event::SaslResponse, unchecked
  // (the session decodes it strictly), instead of being parsed as a command.
  void expect_sasl_response() { framer_.expect_sasl_response(); }

  // STLS: plaintext pipelined behind the command must never run.
  void discard_buffered() { framer_.discard_buffered(); }

  // Once a login succeeds, whatever the client pipelined behind it is no
  // longer pre-auth POP3 but the pod's to read. Call it between events.
  std::string take_unparsed() { return framer_.take_unparsed(); }

  std::size_t buffered_bytes() const { return framer_.buffered_bytes(); }

 private:
  protocol::LineFramer framer_;
};

}  // namespace podgate::pop3
