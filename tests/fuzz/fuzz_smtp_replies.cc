// Differential fuzzing of the SMTP reply reader (what a pod's SMTP server
// says to podgate): whole, in pseudo-random chunks and split in two, the
// same replies come out and the same rest is left. Every reply has a code
// of three digits and at least one line, and stays within the reader's
// bounds; once broken, it stays broken.
//
// Input layout: bytes 0 and 1 seed the splits, the rest is what the pod sends.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/protocol/smtp/smtp_reply_reader.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using podgate::fuzz::check;
using podgate::smtp::Reply;
using podgate::smtp::ReplyReader;

struct Run {
  std::vector<Reply> replies;
  bool broken = false;
  std::string rest;
};

bool same_reply(const Reply& a, const Reply& b) {
  return a.code == b.code && a.lines == b.lines;
}

template <typename Chunks>
Run run(Chunks&& chunks) {
  ReplyReader reader;
  Run result;
  chunks([&](std::string_view chunk) {
    bool was_broken = reader.broken();
    reader.feed(chunk);
    while (auto reply = reader.next()) {
      check(!was_broken);
      check(reply->code >= 0 && reply->code <= 999 && !reply->lines.empty());
      std::size_t bytes = 0;
      for (const std::string& line : reply->lines) bytes += line.size() + 2;
      check(bytes <= ReplyReader::kMaxReplyBytes + 4 * reply->lines.size());
      result.replies.push_back(std::move(*reply));
    }
    if (was_broken) check(reader.broken());
  });
  result.broken = reader.broken();
  if (!result.broken) result.rest = reader.take_rest();
  return result;
}

bool same(const Run& a, const Run& b) {
  return a.broken == b.broken && a.rest == b.rest &&
         podgate::fuzz::same_lists(a.replies, b.replies, same_reply);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint32_t seed = std::uint32_t{data[0]} << 8 | data[1];
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  const Run whole = run([&](auto feed) { feed(input); });
  check(
      same(whole, run([&](auto feed) { podgate::fuzz::feed_in_small_chunks(input, seed, feed); })));
  const std::size_t cut = input.empty() ? 0 : seed % (input.size() + 1);
  check(same(whole, run([&](auto feed) {
               feed(input.substr(0, cut));
               feed(input.substr(cut));
             })));
  return 0;
}
