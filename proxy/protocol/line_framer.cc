#include "proxy/protocol/line_framer.h"

#include "core/secret.h"

namespace podgate::protocol {

LineFramer::LineFramer(std::size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

LineFramer::~LineFramer() {
  wipe(buffer_);
}

void LineFramer::feed(std::string_view bytes) {
  // After a line broke the limit the connection is going away; holding on to
  // more input would only let a client grow our memory.
  if (!too_long_) append_wiping(buffer_, bytes);
}

FramedLine LineFramer::next_line() {
  if (too_long_) return {};
  const std::optional<std::size_t> line_feed = find_line_feed();
  const std::size_t line_end = line_feed ? *line_feed + 1 : buffer_.size();
  if (line_end - pos_ > max_line_bytes_) return stop_too_long();
  if (!line_feed) {
    compact_buffer();
    return {};
  }
  FramedLine line;
  line.kind = sasl_line_expected_ ? FramedLine::Kind::SaslResponse : FramedLine::Kind::Line;
  line.text = std::string_view(buffer_).substr(pos_, *line_feed - pos_);
  if (!line.text.empty() && line.text.back() == '\r') line.text.remove_suffix(1);
  pos_ = line_end;
  scanned_ = 0;
  sasl_line_expected_ = false;
  return line;
}

void LineFramer::expect_sasl_response() {
  sasl_line_expected_ = true;
}

void LineFramer::discard_buffered() {
  wipe(buffer_);
  pos_ = 0;
  scanned_ = 0;
}

std::string LineFramer::take_unparsed() {
  std::string unparsed = buffer_.substr(pos_);
  discard_buffered();
  return unparsed;
}

// Remembers how far it looked, so a line fed one byte at a time is scanned
// once, not once per byte.
std::optional<std::size_t> LineFramer::find_line_feed() {
  const std::size_t found = buffer_.find('\n', pos_ + scanned_);
  if (found != std::string::npos) return found;
  scanned_ = buffer_.size() - pos_;
  return std::nullopt;
}

FramedLine LineFramer::stop_too_long() {
  too_long_ = true;
  discard_buffered();
  buffer_.shrink_to_fit();
  return FramedLine{FramedLine::Kind::TooLong, {}};
}

// Drops consumed bytes so the buffer holds no more than the unfinished line.
void LineFramer::compact_buffer() {
  if (pos_ == 0) return;
  erase_front(buffer_, pos_);
  pos_ = 0;
}

}  // namespace podgate::protocol
