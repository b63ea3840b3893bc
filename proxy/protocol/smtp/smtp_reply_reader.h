// Reads SMTP server replies (RFC 5321 section 4.2): "ddd-text" lines continue
// a reply, "ddd text" ends it. Pure and bounded (a line, and a whole
// multi-line reply); used where podgate is the client of a pod's SMTP server.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/protocol/line_framer.h"

namespace podgate::smtp {

struct Reply {
  int code = 0;
  std::vector<std::string> lines;  // the text after "ddd-" / "ddd ", one per line
};

class ReplyReader {
 public:
  static constexpr std::size_t kMaxLineBytes = 8 * 1024;
  // An EHLO answer, the longest reply of a login, is a few hundred bytes.
  static constexpr std::size_t kMaxReplyBytes = 32 * 1024;

  void feed(std::string_view bytes) { lines_.feed(bytes); }

  // The next complete reply, or nullopt when more bytes are needed or the
  // input is broken (then broken() is true and stays true): a line that is
  // no reply line, too long a line or reply, a reply whose code changes.
  std::optional<Reply> next();
  bool broken() const { return broken_; }

  // Bytes after the last reply returned.
  std::string take_rest() { return lines_.take_unparsed(); }

 private:
  protocol::LineFramer lines_{kMaxLineBytes};
  Reply partial_;
  std::size_t partial_bytes_ = 0;
  bool broken_ = false;
};

}  // namespace podgate::smtp
