// Cuts what a client sends into lines for the line-based pre-auth parsers
// (POP3, SMTP), so that the framing rules and the memory bound live in one
// place and each parser keeps only its own grammar. Pure and bounded: no I/O,
// and feeding the same bytes in any split yields the same lines
// (tests/unit/test_line_framer.cc).
//
// - A line ends at LF; a CR right before it is dropped. Any other CR and any
//   NUL stay in the line: what they mean is the grammar's call, not ours.
// - max_line_bytes bounds a line including its CRLF (or bare LF). It is checked
//   on partial lines too: a line that is already too long can only get longer,
//   so a client cannot make us wait, and buffer, for an LF that never comes.
// - Breaking the limit is final. The connection is going away, so from then on
//   every byte fed is dropped and no line comes out.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace podgate::protocol {

struct FramedLine {
  enum class Kind {
    NeedMore,      // no complete line yet: feed more bytes
    Line,          // `text` is the next line
    SaslResponse,  // `text` is the line expect_sasl_response() asked for
    TooLong,       // a line broke max_line_bytes: the framer has stopped for good
  };
  Kind kind = Kind::NeedMore;
  // Without the line terminator, otherwise as sent. Points into the framer's
  // buffer: copy what you keep before calling the framer again.
  std::string_view text;
};

// What it has read may hold a password (PASS, an AUTH response): consumed
// bytes are wiped, and so is everything left when it goes.
class LineFramer {
 public:
  explicit LineFramer(std::size_t max_line_bytes);
  ~LineFramer();
  // Moving leaves nothing to wipe behind: the source's buffer goes with it
  // (a short one is wiped by the source's destructor).
  LineFramer(LineFramer&&) noexcept = default;
  LineFramer& operator=(LineFramer&&) = delete;
  LineFramer(const LineFramer&) = delete;
  LineFramer& operator=(const LineFramer&) = delete;

  // Appends bytes from the client. Never fails; the limit is reported by
  // next_line().
  void feed(std::string_view bytes);

  // The next line from the bytes fed so far.
  FramedLine next_line();

  // The next complete line answers an AUTH challenge and comes back as
  // Kind::SaslResponse, so the parser hands it over instead of reading a
  // command into it. Applies to one line; call again for each challenge.
  void expect_sasl_response();

  // Forgets everything buffered and not yet returned, a partial line included:
  // plaintext pipelined behind STARTTLS/STLS must never run.
  void discard_buffered();

  // Hands over the bytes next_line() has not consumed and empties the framer,
  // for the moment the client is authenticated and the rest is the pod's.
  std::string take_unparsed();

  // Bytes held that next_line() has not consumed yet; bounded by
  // max_line_bytes once next_line() has answered NeedMore.
  std::size_t buffered_bytes() const { return buffer_.size() - pos_; }

 private:
  std::optional<std::size_t> find_line_feed();
  FramedLine stop_too_long();
  void compact_buffer();

  std::size_t max_line_bytes_;
  std::string buffer_;
  std::size_t pos_ = 0;      // start of the bytes next_line() has not consumed
  std::size_t scanned_ = 0;  // bytes after pos_ already known to hold no line feed
  bool sasl_line_expected_ = false;
  bool too_long_ = false;
};

}  // namespace podgate::protocol
