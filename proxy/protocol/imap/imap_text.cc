#include "proxy/protocol/imap/imap_text.h"

#include <algorithm>
#include <cctype>

namespace podgate::imap {

namespace {
bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(),
                    [](char a, char b) { return std::toupper(a) == std::toupper(b); });
}
}  // namespace

std::string capability_from(std::string_view line) {
  if (starts_with_nocase(line, "* CAPABILITY ")) return std::string(line.substr(13));
  std::size_t open = line.find('[');
  if (open == std::string_view::npos || !starts_with_nocase(line.substr(open), "[CAPABILITY ")) {
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
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

}  // namespace podgate::imap
