#include "bench/podgate-bench/imap_reader.h"

#include <algorithm>
#include <cstring>

namespace podgate::bench {

namespace {

constexpr std::size_t kMaxLiteralDigits = 19;  // fits in 64 bits

// The size a line ending in "{123}" or "{123+}" announces.
std::optional<std::uint64_t> announced_literal(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  line.remove_suffix(1);
  if (!line.empty() && line.back() == '+') line.remove_suffix(1);
  std::size_t digits = 0;
  while (digits < line.size() && line[line.size() - 1 - digits] >= '0' &&
         line[line.size() - 1 - digits] <= '9') {
    ++digits;
  }
  if (digits == 0 || digits > kMaxLiteralDigits || digits == line.size() ||
      line[line.size() - 1 - digits] != '{') {
    return std::nullopt;
  }
  std::uint64_t size = 0;
  for (char c : line.substr(line.size() - digits)) size = size * 10 + (c - '0');
  return size;
}

}  // namespace

void ImapResponseReader::feed(std::string_view bytes) {
  // Every line handed out has been read: the buffer can start over.
  if (ready_pos_ == ready_.size()) {
    ready_.clear();
    ready_pos_ = 0;
  }
  while (!bytes.empty() && !broken_) {
    if (literal_left_ > 0) {
      std::size_t skipped =
          static_cast<std::size_t>(std::min<std::uint64_t>(literal_left_, bytes.size()));
      literal_left_ -= skipped;
      literal_bytes_ += skipped;
      bytes.remove_prefix(skipped);
      continue;
    }
    const void* found = std::memchr(bytes.data(), '\n', bytes.size());
    std::size_t length =
        found ? static_cast<std::size_t>(static_cast<const char*>(found) - bytes.data())
              : bytes.size();
    if (partial_.size() + length > kMaxLineBytes) {
      broken_ = true;
      return;
    }
    partial_.append(bytes.substr(0, length));
    if (!found) return;
    bytes.remove_prefix(length + 1);
    end_of_segment();
  }
}

void ImapResponseReader::end_of_segment() {
  if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
  if (std::optional<std::uint64_t> literal = announced_literal(partial_)) {
    // The line goes on after the literal's bytes (even after an empty one).
    literal_left_ = *literal;
    return;
  }
  ready_.append(partial_);
  ready_.push_back('\n');
  partial_.clear();
}

std::optional<std::string_view> ImapResponseReader::next_line() {
  if (ready_pos_ >= ready_.size()) return std::nullopt;
  std::size_t end = ready_.find('\n', ready_pos_);
  std::string_view line(ready_.data() + ready_pos_, end - ready_pos_);
  ready_pos_ = end + 1;
  return line;
}

void ImapResponseReader::discard_buffered() {
  partial_.clear();
  ready_.clear();
  ready_pos_ = 0;
  literal_left_ = 0;
}

}  // namespace podgate::bench
