// Text from clients and pods (user names, greetings, answers) on its way into
// a log line: control characters become '?', so nobody can start a line of
// their own in our logs, and it is cut to a length that fits a line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace podgate::core {

inline std::string log_safe(std::string_view text, std::size_t max_bytes = 256) {
  std::string safe(text.substr(0, max_bytes));
  for (char& c : safe) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return safe;
}

}  // namespace podgate::core
