// What the HTTP fuzzers share: feeding a byte stream to a request or
// response parser as a connection does (whole, in small chunks, or cut in
// two) and the outcome to compare between those runs. Along the way:
// `consumed` never exceeds what was fed, NeedMore consumes everything, and an
// error stays final.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/http/http_parser.h"
#include "tests/fuzz/fuzz_support.h"

namespace podgate::fuzz {

inline bool same_message(const core::http::Request& a, const core::http::Request& b) {
  return a.method == b.method && a.target == b.target && a.headers == b.headers &&
         a.body == b.body && a.keep_alive == b.keep_alive;
}

inline bool same_message(const core::http::Response& a, const core::http::Response& b) {
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
  explicit Run(core::http::ParserLimits limits) : parser_(limits) {}

  void feed(std::string_view chunk) {
    using core::http::ParseStatus;
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

  // For responses, the end of the stream is the server closing.
  Outcome<Message> finish() {
    using core::http::ParseStatus;
    if constexpr (std::is_same_v<Parser, core::http::ResponseParser>) {
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
Outcome<Message> parse_in_small_chunks(std::string_view input, core::http::ParserLimits limits,
                                       std::uint32_t seed) {
  Run<Parser, Message> run(limits);
  feed_in_small_chunks(input, seed, [&](std::string_view chunk) { run.feed(chunk); });
  return run.finish();
}

template <typename Parser, typename Message>
Outcome<Message> parse_in_two(std::string_view input, core::http::ParserLimits limits,
                              std::size_t cut) {
  Run<Parser, Message> run(limits);
  run.feed(input.substr(0, cut));
  run.feed(input.substr(cut));
  return run.finish();
}

template <typename Parser, typename Message>
Outcome<Message> parse_whole(std::string_view input, core::http::ParserLimits limits) {
  Run<Parser, Message> run(limits);
  run.feed(input);
  return run.finish();
}

}  // namespace podgate::fuzz
