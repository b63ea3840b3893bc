#include "proxy/protocol/smtp/smtp_reply_reader.h"

#include <algorithm>
#include <utility>

namespace podgate::smtp {

namespace {
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
}  // namespace

std::optional<Reply> ReplyReader::next() {
  while (!broken_) {
    protocol::FramedLine framed = lines_.next_line();
    if (framed.kind == protocol::FramedLine::Kind::NeedMore) return std::nullopt;
    if (framed.kind == protocol::FramedLine::Kind::TooLong) break;
    std::string_view line = framed.text;
    bool digits = line.size() >= 3 && std::all_of(line.begin(), line.begin() + 3, is_digit);
    if (!digits || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) break;
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    // A multi-line reply keeps its code, and has an end within the bound.
    if (!partial_.lines.empty() && partial_.code != code) break;
    partial_bytes_ += line.size() + 2;
    if (partial_bytes_ > kMaxReplyBytes) break;
    partial_.code = code;
    partial_.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view());
    if (line.size() > 3 && line[3] == '-') continue;
    partial_bytes_ = 0;
    return std::exchange(partial_, Reply{});
  }
  broken_ = true;
  partial_ = Reply{};
  return std::nullopt;
}

}  // namespace podgate::smtp
