// What every differential fuzzer here shares: a check that aborts (libFuzzer
// reports the input), the comparison of two event lists, and the
// pseudo-random chunking of one input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace podgate::fuzz {

inline void check(bool condition) {
  if (!condition) std::abort();
}

template <typename T, typename Same>
bool same_lists(const std::vector<T>& a, const std::vector<T>& b, Same same) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}

// Calls feed() with consecutive chunks of 1 to 16 bytes of `input`, their
// sizes drawn from a xorshift generator started at `seed`.
template <typename Feed>
void feed_in_small_chunks(std::string_view input, std::uint32_t seed, Feed&& feed) {
  std::uint32_t state = seed | 1;
  for (std::size_t pos = 0; pos < input.size();) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    const std::size_t size = 1 + state % 16;
    feed(input.substr(pos, size));
    pos += size;
  }
}

}  // namespace podgate::fuzz
