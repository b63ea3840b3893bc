// Follows what an IMAP server sends a client, only far enough to know where
// one response line ends: a literal ("{n}\r\n" and then n bytes of anything,
// line breaks included) belongs to the line that announced it. podgate uses
// it to write its own "* BYE" only between two of the pod's lines, never
// inside a message the client is fetching. Pure; any split of the stream
// gives the same answers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace podgate::imap {

class ResponseBoundary {
 public:
  void feed(std::string_view bytes);
  // True when the next byte the server sends would start a new line.
  bool at_line_start() const { return state_ == State::LineStart; }

 private:
  enum class State { LineStart, InLine, InLiteral };
  void end_line();

  State state_ = State::LineStart;
  std::uint64_t literal_left_ = 0;
  // The last bytes of the current line: enough to see "{4294967296}\r".
  std::string tail_;
};

}  // namespace podgate::imap
