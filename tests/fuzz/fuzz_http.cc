// Differential fuzzing of the HTTP/1.1 parsers: the bytes are parsed whole as
// a stream of requests, then fed in pseudo-random chunks and split in two;
// every run must give the same messages and end in the same way (error or
// not). The same bytes then go through the response parser, finished as if
// the server closed. Along the way: `consumed` never exceeds what was fed,
// NeedMore consumes everything, and an error stays final.
//
// Input layout: byte 0 picks the limits (mostly small, so they are reached),
// bytes 1 and 2 seed the splits, the rest is the stream.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/http/http_parser.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using podgate::fuzz::check;

using podgate::core::http::ParserLimits;
using podgate::core::http::ParseStatus;
using podgate::core::http::Request;
using podgate::core::http::RequestParser;
using podgate::core::http::Response;
using podgate::core::http::ResponseParser;

constexpr std::size_t kHeaderBytes = 3;

bool same_message(const Request& a, const Request& b) {
  return a.method == b.method && a.target == b.target && a.headers == b.headers &&
         a.body == b.body && a.keep_alive == b.keep_alive;
}

bool same_message(const Response& a, const Response& b) {
  return a.status == b.status && a.headers == b.headers && a.body == b.body &&
         a.keep_alive == b.keep_alive;
}

template <typename Message>
struct Outcome {
  std::vector<Message> messages;
  bool error = false;

  bool operator==(const Outcome& other) const {
    if (error != other.error || messages.size() != other.messages.size()) return false;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      if (!same_message(messages[i], other.messages[i])) return false;
    }
    return true;
  }
};

// Feeds chunks as a connection does: take() each message, feed the rest.
template <typename Parser, typename Message>
class Run {
 public:
  explicit Run(ParserLimits limits) : parser_(limits) {}

  void feed(std::string_view chunk) {
    if (outcome_.error) return;
    for (;;) {
      std::size_t consumed = 0;
      ParseStatus status = parser_.feed(chunk, consumed);
      check(consumed <= chunk.size());
      chunk.remove_prefix(consumed);
      if (status == ParseStatus::Message) {
        outcome_.messages.push_back(parser_.take());
        continue;
      }
      if (status == ParseStatus::Error) {
        check(!parser_.error().empty());
        outcome_.error = true;
        std::size_t again = 0;
        check(parser_.feed("HTTP/1.1 200 OK\r\n\r\n", again) == ParseStatus::Error);
        check(again == 0);
        return;
      }
      check(chunk.empty());
      return;
    }
  }

  Outcome<Message> finish() {
    if constexpr (std::is_same_v<Parser, ResponseParser>) {
      if (!outcome_.error) {
        ParseStatus status = parser_.finish();
        if (status == ParseStatus::Message) outcome_.messages.push_back(parser_.take());
        if (status == ParseStatus::Error) outcome_.error = true;
      }
    }
    return outcome_;
  }

 private:
  Parser parser_;
  Outcome<Message> outcome_;
};

// Chunks of 1 to 16 bytes, sizes from a xorshift generator.
template <typename Parser, typename Message>
Outcome<Message> parse_in_small_chunks(std::string_view input, ParserLimits limits,
                                       std::uint32_t seed) {
  Run<Parser, Message> run(limits);
  podgate::fuzz::feed_in_small_chunks(input, seed,
                                      [&](std::string_view chunk) { run.feed(chunk); });
  return run.finish();
}

template <typename Parser, typename Message>
Outcome<Message> parse_in_two(std::string_view input, ParserLimits limits, std::size_t cut) {
  Run<Parser, Message> run(limits);
  run.feed(input.substr(0, cut));
  run.feed(input.substr(cut));
  return run.finish();
}

template <typename Parser, typename Message>
Outcome<Message> parse_whole(std::string_view input, ParserLimits limits) {
  Run<Parser, Message> run(limits);
  run.feed(input);
  return run.finish();
}

template <typename Parser, typename Message>
void differential(std::string_view input, ParserLimits limits, std::uint32_t seed) {
  const Outcome<Message> whole = parse_whole<Parser, Message>(input, limits);
  check(whole == parse_in_small_chunks<Parser, Message>(input, limits, seed));
  const std::size_t cut = input.empty() ? 0 : seed % (input.size() + 1);
  check(whole == parse_in_two<Parser, Message>(input, limits, cut));
  for (const Message& message : whole.messages) {
    check(message.body.size() <= limits.max_body_bytes);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < kHeaderBytes) return 0;
  ParserLimits limits;
  if (data[0] != 0xff) {
    limits.max_header_bytes = 16 + static_cast<std::size_t>(data[0] & 0x0f) * 16;
    limits.max_body_bytes = static_cast<std::size_t>(data[0] >> 4) * 8;
  }
  const std::uint32_t seed = std::uint32_t{data[1]} << 8 | data[2];
  const std::string_view input(reinterpret_cast<const char*>(data) + kHeaderBytes,
                               size - kHeaderBytes);
  differential<RequestParser, Request>(input, limits, seed);
  differential<ResponseParser, Response>(input, limits, seed);
  return 0;
}
