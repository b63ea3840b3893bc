#include "proxy/protocol/imap/response_boundary.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "proxy/protocol/imap/literal.h"

namespace podgate::imap {

namespace {

constexpr std::size_t kTailBytes = 24;

}  // namespace

void ResponseBoundary::end_line() {
  std::string_view line(tail_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::optional<std::uint64_t> literal = announced_literal(line);
  // After a literal (even an empty one) the line goes on.
  state_ = !literal ? State::LineStart : *literal > 0 ? State::InLiteral : State::InLine;
  literal_left_ = literal.value_or(0);
  tail_.clear();
}

void ResponseBoundary::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (state_ == State::InLiteral) {
      std::size_t skipped =
          static_cast<std::size_t>(std::min<std::uint64_t>(literal_left_, bytes.size()));
      literal_left_ -= skipped;
      bytes.remove_prefix(skipped);
      if (literal_left_ == 0) state_ = State::InLine;  // the line goes on after it
      continue;
    }
    state_ = State::InLine;
    const void* found = std::memchr(bytes.data(), '\n', bytes.size());
    std::size_t line_bytes =
        found ? static_cast<std::size_t>(static_cast<const char*>(found) - bytes.data())
              : bytes.size();
    std::string_view piece = bytes.substr(0, line_bytes);
    if (piece.size() >= kTailBytes) {
      tail_.assign(piece.substr(piece.size() - kTailBytes));
    } else {
      tail_.append(piece);
      if (tail_.size() > kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
    }
    if (!found) return;
    bytes.remove_prefix(line_bytes + 1);
    end_line();
  }
}

}  // namespace podgate::imap
