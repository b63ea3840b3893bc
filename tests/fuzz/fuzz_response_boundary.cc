// Differential fuzzing of the IMAP response boundary tracker, which sees
// every byte a pod relays to a logged-in client (podgate writes its own
// "* BYE" only where it says a line starts). Fed one byte at a time it gives
// the reference answer after each byte; fed in pseudo-random chunks, and in
// two, it must give the same answer after every chunk.
//
// Input layout: bytes 0 and 1 seed the splits, the rest is what the pod sends.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "proxy/protocol/imap/response_boundary.h"
#include "tests/fuzz/fuzz_support.h"

namespace {
using podgate::fuzz::check;
using podgate::imap::ResponseBoundary;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint32_t seed = std::uint32_t{data[0]} << 8 | data[1];
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  // at_line_start() after each prefix of the input.
  std::vector<bool> reference{true};
  ResponseBoundary bytewise;
  for (char c : input) {
    bytewise.feed(std::string_view(&c, 1));
    reference.push_back(bytewise.at_line_start());
  }
  ResponseBoundary chunked;
  std::size_t fed = 0;
  podgate::fuzz::feed_in_small_chunks(input, seed, [&](std::string_view chunk) {
    chunked.feed(chunk);
    fed += chunk.size();
    check(chunked.at_line_start() == reference[fed]);
  });
  const std::size_t cut = input.empty() ? 0 : seed % (input.size() + 1);
  ResponseBoundary in_two;
  in_two.feed(input.substr(0, cut));
  check(in_two.at_line_start() == reference[cut]);
  in_two.feed(input.substr(cut));
  check(in_two.at_line_start() == reference.back());
  return 0;
}
