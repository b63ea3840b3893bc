#include "proxy/protocol/imap/imap_text.h"

#include "proxy/protocol/ascii.h"

namespace podgate::imap {

namespace {
using protocol::istarts_with;
}  // namespace

std::string capability_from(std::string_view line) {
  if (istarts_with(line, "* CAPABILITY ")) return std::string(line.substr(13));
  std::size_t open = line.find('[');
  if (open == std::string_view::npos || !istarts_with(line.substr(open), "[CAPABILITY ")) {
    return "";
  }
  std::size_t start = open + 12;
  std::size_t close = line.find(']', start);
  if (close == std::string_view::npos) return "";
  return std::string(line.substr(start, close - start));
}

bool quotable(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string quote(std::string_view text) {
  std::string quoted;
  // Room for the worst case up front: growing would leave copies behind
  // (it quotes passwords for LOGIN).
  quoted.reserve(2 * text.size() + 2);
  quoted += '"';
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

}  // namespace podgate::imap
