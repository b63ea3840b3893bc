// Cuts what an IMAP server sends into response lines, for a client. A literal
// ("{n}" at the end of a line, then n bytes of anything) belongs to the line
// that announced it: its bytes are counted and skipped, never buffered, so a
// FETCH of a large message costs no memory and no copy. (The relay's
// proxy/protocol/imap/response_boundary.h follows the same framing but only
// says where lines end; a client needs the lines.) Pure and bounded; any split
// of the input gives the same lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace podgate::bench {

class ImapResponseReader {
 public:
  // One response line without its literals' contents; far above what any
  // server sends outside a literal.
  static constexpr std::size_t kMaxLineBytes = 64 * 1024;

  void feed(std::string_view bytes);

  // The next complete line, CRLF removed; a literal's "{n}" stays in the text,
  // its contents do not. The view is valid until the next feed().
  std::optional<std::string_view> next_line();

  // A line broke kMaxLineBytes: final, nothing more comes out.
  bool broken() const { return broken_; }
  // Literal bytes skipped so far.
  std::uint64_t literal_bytes() const { return literal_bytes_; }
  // Forgets buffered and partial lines (what a server sent in plaintext
  // behind its STARTTLS answer must not be read as a TLS-protected answer).
  void discard_buffered();

 private:
  void end_of_segment();

  std::string partial_;  // the line being read, literal contents left out
  std::string ready_;    // complete lines, each followed by '\n'
  std::size_t ready_pos_ = 0;
  std::uint64_t literal_left_ = 0;
  std::uint64_t literal_bytes_ = 0;
  bool broken_ = false;
};

}  // namespace podgate::bench
