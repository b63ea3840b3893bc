// Pure, incremental, bounded parser for the SMTP commands a submission client
// may send before it is authenticated: RFC 5321 (EHLO, HELO, MAIL, RCPT, DATA,
// RSET, NOOP, QUIT), RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 3030 (BDAT),
// with RFC 2920 pipelining (several commands in one read).
//
// Bytes go in with feed(); events come out of next(), one at a time, until it
// answers NeedMore. No I/O happens here and no reply is chosen: the session
// decides what to write (530 before authentication, and so on). Feeding the
// same bytes in any split (one byte at a time included) yields the same
// sequence of events; tests/unit/test_smtp_parser.cc proves it. The API
// mirrors podgate::imap::Parser and podgate::pop3::Parser so every session
// drives its parser alike.
//
// What counts as a command line:
// - A line ends at LF; a CR right before it is dropped. A NUL anywhere in a
//   command line, or a CR anywhere else, makes it BadSyntax: such bytes have
//   no business in an SMTP command, and letting them through would only
//   invite the pod to read the line differently from us.
// - The verb is everything up to the first space, compared without case. A
//   verb this parser does not know comes back as CommandKind::Unknown (the
//   session answers 502) when it has the shape of an SMTP keyword (RFC 5321
//   Ldh-str starting with a letter, at most 20 bytes); anything else, the
//   empty line included, is BadSyntax.
// - The arguments are the rest of the line after that one space, judged per
//   verb (see Command::argument). Known verbs are strict: an empty argument
//   or a trailing space is BadSyntax.
// - BDAT's chunk is not read here: a session that refuses BDAT before
//   authentication sees any chunk bytes the client sends anyway as command
//   lines, so it should not offer CHUNKING before then.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/secret.h"
#include "proxy/protocol/line_framer.h"

namespace podgate::smtp {

enum class CommandKind {
  Ehlo,
  Helo,
  StartTls,
  Auth,
  Rset,
  Noop,
  Quit,
  Mail,
  Rcpt,
  Data,
  Bdat,
  Unknown,  // a well-formed verb of another command: the session answers 502
};

struct Command {
  CommandKind kind = CommandKind::Unknown;
  std::string name;  // the verb, upper-cased ("EHLO", "MAIL" for MAIL FROM, "VRFY", ...)

  // EHLO/HELO: the domain or address literal (one word of printable ASCII).
  // MAIL, RCPT, BDAT, NOOP and unknown verbs: the rest of the line after the
  // verb and one space, exactly as sent ("FROM:<a@b> SIZE=10" for MAIL);
  // empty when the verb ends the line. AUTH and the commands without
  // arguments: empty, so AUTH's credentials live in initial_response only.
  // Never logged by the session: an unknown verb may carry anything.
  std::string argument;

  // AUTH: the SASL mechanism upper-cased; the initial response exactly as
  // sent (base64 text, or "=" for an empty response), absent when not sent.
  // Only the base64 alphabet is checked here: the session decodes strictly.
  std::string mechanism;
  std::optional<Secret> initial_response;
};

enum class ErrorKind {
  LineTooLong,  // a line exceeded max_line_bytes: fatal, nothing more is parsed
  BadSyntax,    // malformed command; its line was consumed: not fatal
};

struct Error {
  ErrorKind kind = ErrorKind::BadSyntax;
  std::string message;  // short fixed text for the 5xx answer, no client data in it
  bool fatal() const { return kind != ErrorKind::BadSyntax; }
};

struct Event {
  enum class Type {
    NeedMore,      // feed more bytes
    Command,       // `command` is filled in
    SaslResponse,  // a line answering an AUTH challenge (334): `sasl_line`
    Error,         // `error` is filled in
  };
  Type type = Type::NeedMore;
  Command command;
  Error error;
  Secret sasl_line;  // without CRLF, otherwise as sent; "*" means the client cancelled
};

// The lines come from protocol::LineFramer, and feed(), discard_buffered(),
// take_unparsed() and buffered_bytes() are its own: see there for framing,
// the line limit and what survives a fatal error. This class adds SMTP.
class Parser {
 public:
  static constexpr std::size_t kDefaultMaxLineBytes = 4096;

  // max_line_bytes bounds a line including its CRLF. RFC 5321 caps command
  // lines at 512 octets, but RFC 4954 lets AUTH lines and SASL responses run
  // longer (up to 12288 octets), so one larger bound serves both.
  explicit Parser(std::size_t max_line_bytes = kDefaultMaxLineBytes) : framer_(max_line_bytes) {}

  void feed(std::string_view bytes) { framer_.feed(bytes); }

  // The next event from the bytes fed so far.
  Event next();

  // The next complete line answers a 334 challenge and comes back as
  // Event::SaslResponse, unchecked (the session decodes it strictly), instead
  // of being parsed as a command.
  void expect_sasl_response() { framer_.expect_sasl_response(); }

  // STARTTLS: plaintext pipelined behind the command must never run (RFC 3207
  // section 4.2 and CVE-2011-0411).
  void discard_buffered() { framer_.discard_buffered(); }

  // Once authentication succeeds, whatever the client pipelined behind AUTH
  // (MAIL, RCPT, DATA, even the message) is no longer pre-auth SMTP but the
  // pod's to read, byte for byte. Call it between events, before next().
  std::string take_unparsed() { return framer_.take_unparsed(); }

  std::size_t buffered_bytes() const { return framer_.buffered_bytes(); }

 private:
  protocol::LineFramer framer_;
};

}  // namespace podgate::smtp
