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

#include "core/http/http_parser.h"
#include "tests/fuzz/fuzz_http_support.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using podgate::fuzz::check;
using podgate::fuzz::Outcome;
using podgate::fuzz::parse_in_small_chunks;
using podgate::fuzz::parse_in_two;
using podgate::fuzz::parse_whole;

using podgate::core::http::ParserLimits;
using podgate::core::http::Request;
using podgate::core::http::RequestParser;
using podgate::core::http::Response;
using podgate::core::http::ResponseParser;

constexpr std::size_t kHeaderBytes = 3;

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
