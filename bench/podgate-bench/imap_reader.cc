#include "bench/podgate-bench/imap_reader.h"

#include <algorithm>
#include <cstring>

#include "proxy/protocol/imap/literal.h"

namespace podgate::bench {

using imap::announced_literal;

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
