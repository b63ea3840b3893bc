#include "proxy/protocol/imap/literal.h"

namespace podgate::imap {

namespace {
constexpr std::size_t kMaxDigits = 19;  // fits in 64 bits
}  // namespace

std::optional<std::uint64_t> announced_literal(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  line.remove_suffix(1);
  if (!line.empty() && line.back() == '+') line.remove_suffix(1);
  std::size_t digits = 0;
  while (digits < line.size() && line[line.size() - 1 - digits] >= '0' &&
         line[line.size() - 1 - digits] <= '9') {
    ++digits;
  }
  if (digits == 0 || digits > kMaxDigits || digits == line.size() ||
      line[line.size() - 1 - digits] != '{') {
    return std::nullopt;
  }
  std::uint64_t size = 0;
  for (char c : line.substr(line.size() - digits)) size = size * 10 + (c - '0');
  return size;
}

}  // namespace podgate::imap
