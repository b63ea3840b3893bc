// Differential fuzzing of the IMAP parser: the client bytes are parsed whole,
// then fed in pseudo-random chunks and split in two; every run must give the
// same events. Along the way: buffered bytes stay within the command limit,
// nothing comes out after a fatal error, and discard_buffered() at STARTTLS
// really forgets the pipelined plaintext.
//
// Input layout: byte 0 picks max_command_bytes (mostly small, so the limits
// are reached), bytes 1 and 2 seed the splits, the rest is what the client sends.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/protocol/imap/imap_parser.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using podgate::fuzz::check;

using podgate::imap::Command;
using podgate::imap::CommandKind;
using podgate::imap::Event;
using podgate::imap::Parser;
using Type = Event::Type;

constexpr std::size_t kHeaderBytes = 3;
// SASL lines the simulated session wants per AUTHENTICATE, an initial
// response counting as the first: two reaches both one- and multi-step paths.
constexpr std::size_t kSaslSteps = 2;

bool same_command(const Command& a, const Command& b) {
  return a.tag == b.tag && a.kind == b.kind && a.name == b.name && a.user == b.user &&
         a.password == b.password && a.mechanism == b.mechanism &&
         a.initial_response == b.initial_response && a.id_fields == b.id_fields;
}

bool same_event(const Event& a, const Event& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case Type::Command:
      return same_command(a.command, b.command);
    case Type::Error:
      return a.error.kind == b.error.kind && a.error.tag == b.error.tag &&
             a.error.message == b.error.message;
    case Type::SaslResponse:
      return a.sasl_line == b.sasl_line;
    case Type::NeedMore:
    case Type::LiteralContinuation:
      return true;
  }
  return false;
}

bool same_events(const std::vector<Event>& a, const std::vector<Event>& b) {
  return podgate::fuzz::same_lists(a, b, same_event);
}

// Feeds chunks and drains next() after each, acting as the session between
// events; optionally discards the buffer at STARTTLS as the session does.
class Run {
 public:
  Run(std::size_t max_command_bytes, bool discard_at_starttls)
      : parser_(max_command_bytes),
        max_command_bytes_(max_command_bytes),
        discard_at_starttls_(discard_at_starttls) {}

  void feed(std::string_view chunk) {
    parser_.feed(chunk);
    for (Event event = parser_.next(); event.type != Type::NeedMore; event = parser_.next()) {
      check(!saw_fatal_error_);
      on_event(event);
      events_.push_back(std::move(event));
    }
    check(parser_.buffered_bytes() <= max_command_bytes_);
  }

  std::vector<Event> take_events() { return std::move(events_); }

 private:
  void on_event(const Event& event) {
    if (event.type == Type::Error && event.error.fatal()) saw_fatal_error_ = true;
    if (event.type == Type::Command && event.command.kind == CommandKind::StartTls &&
        discard_at_starttls_) {
      parser_.discard_buffered();
      check(parser_.buffered_bytes() == 0);
    }
    if (event.type == Type::Command && event.command.kind == CommandKind::Authenticate) {
      sasl_lines_wanted_ = kSaslSteps - (event.command.initial_response ? 1 : 0);
    } else if (event.type == Type::SaslResponse) {
      sasl_lines_wanted_ = event.sasl_line == "*" ? 0 : sasl_lines_wanted_ - 1;
    } else {
      return;
    }
    if (sasl_lines_wanted_ > 0) parser_.expect_sasl_response();
  }

  Parser parser_;
  std::size_t max_command_bytes_;
  bool discard_at_starttls_;
  bool saw_fatal_error_ = false;
  std::size_t sasl_lines_wanted_ = 0;
  std::vector<Event> events_;
};

// Chunks of 1 to 16 bytes, sizes from a xorshift generator.
std::vector<Event> parse_in_small_chunks(std::string_view input, std::size_t max_command_bytes,
                                         std::uint32_t seed, bool discard_at_starttls) {
  Run run(max_command_bytes, discard_at_starttls);
  podgate::fuzz::feed_in_small_chunks(input, seed,
                                      [&](std::string_view chunk) { run.feed(chunk); });
  return run.take_events();
}

std::vector<Event> parse_in_two(std::string_view input, std::size_t max_command_bytes,
                                std::size_t cut) {
  Run run(max_command_bytes, false);
  run.feed(input.substr(0, cut));
  run.feed(input.substr(cut));
  return run.take_events();
}

std::vector<Event> parse_whole(std::string_view input, std::size_t max_command_bytes) {
  Run run(max_command_bytes, false);
  run.feed(input);
  return run.take_events();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < kHeaderBytes) return 0;
  const std::size_t max_command_bytes =
      data[0] == 0xff ? Parser::kDefaultMaxCommandBytes : 8 + std::size_t{data[0]} * 4;
  const std::uint32_t seed = std::uint32_t{data[1]} << 8 | data[2];
  const std::string_view input(reinterpret_cast<const char*>(data) + kHeaderBytes,
                               size - kHeaderBytes);

  const std::vector<Event> whole = parse_whole(input, max_command_bytes);
  check(same_events(whole, parse_in_small_chunks(input, max_command_bytes, seed, false)));
  const std::size_t cut = input.empty() ? 0 : seed % (input.size() + 1);
  check(same_events(whole, parse_in_two(input, max_command_bytes, cut)));
  // Not differential: what survives STARTTLS depends on what was buffered.
  parse_in_small_chunks(input, max_command_bytes, seed, true);
  return 0;
}
