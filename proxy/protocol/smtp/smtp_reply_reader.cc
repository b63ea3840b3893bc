#include "proxy/protocol/smtp/smtp_reply_reader.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace podgate::smtp {

std::optional<Reply> ReplyReader::next() {
  while (!broken_) {
    std::size_t newline = input_.find('\n', start_);
    if (newline == std::string::npos) {
      broken_ = input_.size() - start_ > kMaxLineBytes;
      input_.erase(0, start_);
      start_ = 0;
      return std::nullopt;
    }
    std::string_view line(input_.data() + start_, newline - start_);
    start_ = newline + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    bool digits = line.size() >= 3 && std::all_of(line.begin(), line.begin() + 3, [](char c) {
                    return std::isdigit(static_cast<unsigned char>(c));
                  });
    if (!digits || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      broken_ = true;
      break;
    }
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (!partial_.lines.empty() && partial_.code != code) {
      broken_ = true;  // a multi-line reply must keep its code
      break;
    }
    partial_.code = code;
    partial_.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view());
    if (line.size() > 3 && line[3] == '-') continue;
    return std::exchange(partial_, Reply{});
  }
  return std::nullopt;
}

std::string ReplyReader::take_rest() {
  std::string rest = input_.substr(start_);
  input_.clear();
  start_ = 0;
  return rest;
}

}  // namespace podgate::smtp
