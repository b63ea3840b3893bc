// Reads SMTP server replies (RFC 5321 section 4.2): "ddd-text" lines continue
// a reply, "ddd text" ends it. Pure and bounded; used where podgate is the
// client of a pod's SMTP server.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace podgate::smtp {

struct Reply {
  int code = 0;
  std::vector<std::string> lines;  // the text after "ddd-" / "ddd ", one per line
};

class ReplyReader {
 public:
  static constexpr std::size_t kMaxLineBytes = 8 * 1024;

  void feed(std::string_view bytes) { input_.append(bytes); }

  // The next complete reply, or nullopt when more bytes are needed or the
  // input is broken (then broken() is true and stays true).
  std::optional<Reply> next();
  bool broken() const { return broken_; }

  // Bytes after the last reply returned.
  std::string take_rest();

 private:
  std::string input_;
  std::size_t start_ = 0;
  Reply partial_;
  bool broken_ = false;
};

}  // namespace podgate::smtp
