// Differential fuzzing of the POP3 parser: the client bytes are parsed whole,
// then fed in pseudo-random chunks and split in two; every run must give the
// same events and hand the pod the same bytes at login. Along the way:
// buffered bytes stay within the line limit, nothing comes out after a fatal
// error, commands carry no line breaks or NULs, and STLS really forgets the
// pipelined plaintext.
//
// Input layout: byte 0 picks max_line_bytes (mostly small, so the limit is
// reached), bytes 1 and 2 seed the splits, the rest is what the client sends.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/protocol/pop3/pop3_parser.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using podgate::fuzz::check;

using podgate::pop3::Command;
using podgate::pop3::CommandKind;
using podgate::pop3::Event;
using podgate::pop3::Parser;
using Type = Event::Type;

constexpr std::size_t kHeaderBytes = 3;

bool same_command(const Command& a, const Command& b) {
  return a.kind == b.kind && a.name == b.name && a.argument == b.argument &&
         a.password == b.password && a.mechanism == b.mechanism &&
         a.initial_response == b.initial_response;
}

bool same_event(const Event& a, const Event& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case Type::Command:
      return same_command(a.command, b.command);
    case Type::Error:
      return a.error.kind == b.error.kind && a.error.message == b.error.message;
    case Type::SaslResponse:
      return a.sasl_line == b.sasl_line;
    case Type::NeedMore:
      return true;
  }
  return false;
}

bool same_events(const std::vector<Event>& a, const std::vector<Event>& b) {
  return podgate::fuzz::same_lists(a, b, same_event);
}

bool has_any_of(std::string_view text, std::string_view bytes) {
  return text.find_first_of(bytes) != std::string_view::npos;
}

// What a command may hold whatever the client sent.
void check_command_shape(const Command& command) {
  constexpr std::string_view kLineBytes("\0\r\n", 3);
  check(!has_any_of(command.name, kLineBytes) && !has_any_of(command.name, " "));
  check(command.name.size() >= 3 && command.name.size() <= 4);
  check(!has_any_of(command.argument, kLineBytes));
  if (command.kind == CommandKind::User) check(!command.argument.empty());
  if (command.kind == CommandKind::User) check(!has_any_of(command.argument, " "));
  if (command.kind == CommandKind::Pass) check(!command.password.empty());
  if (command.kind != CommandKind::User && command.kind != CommandKind::Pass) {
    check(command.argument.empty());
  }
  if (command.kind != CommandKind::Auth || command.mechanism.empty()) {
    check(!command.initial_response);
  }
  if (command.initial_response) check(!has_any_of(command.initial_response->view(), " \r\n"));
}

enum class Mode {
  Plain,
  // After PASS or a completed AUTH, take_unparsed() and hand the rest to the pod.
  HandOverAtLogin,
  // After STLS, discard_buffered() and stop feeding plaintext (it would go to TLS).
  TlsAtStls,
  // After STLS, discard_buffered() but go on feeding: the parser must cope with
  // being cut in the middle of a line. Not differential.
  DiscardAtStls,
};

// Feeds chunks and drains next() after each, acting as the session between
// events. AUTH PLAIN wants one SASL line, AUTH LOGIN two; an initial response
// counts as the first.
class Run {
 public:
  Run(std::size_t max_line_bytes, Mode mode)
      : parser_(max_line_bytes), max_line_bytes_(max_line_bytes), mode_(mode) {}

  void feed(std::string_view chunk) {
    if (logged_in_) {
      forwarded_.append(chunk);
      return;
    }
    if (in_tls_) return;
    parser_.feed(chunk);
    for (Event event = parser_.next(); event.type != Type::NeedMore; event = parser_.next()) {
      check(!saw_fatal_error_);
      check(!logged_in_ && !in_tls_);
      on_event(event);
      events_.push_back(std::move(event));
    }
    check(parser_.buffered_bytes() <= max_line_bytes_);
  }

  const std::vector<Event>& events() const { return events_; }
  const std::string& forwarded() const { return forwarded_; }

 private:
  void on_event(const Event& event) {
    switch (event.type) {
      case Type::Error:
        check(!event.error.message.empty());
        if (event.error.fatal()) {
          saw_fatal_error_ = true;
          check(parser_.buffered_bytes() == 0);
        }
        return;
      case Type::SaslResponse:
        check(sasl_lines_wanted_ > 0);
        check(!has_any_of(event.sasl_line.view(), "\n"));
        if (event.sasl_line == "*") {
          sasl_lines_wanted_ = 0;
        } else if (--sasl_lines_wanted_ == 0) {
          log_in();
        }
        break;
      case Type::Command:
        check(sasl_lines_wanted_ == 0);
        check_command_shape(event.command);
        on_command(event.command);
        break;
      case Type::NeedMore:
        check(false);
    }
    if (sasl_lines_wanted_ > 0) parser_.expect_sasl_response();
  }

  void on_command(const Command& command) {
    if (command.kind == CommandKind::Auth && !command.mechanism.empty()) {
      sasl_lines_wanted_ = command.mechanism == "LOGIN" ? 2 : 1;
      if (command.initial_response) --sasl_lines_wanted_;
      if (sasl_lines_wanted_ == 0) log_in();
    } else if (command.kind == CommandKind::Pass) {
      log_in();
    } else if (command.kind == CommandKind::Stls &&
               (mode_ == Mode::TlsAtStls || mode_ == Mode::DiscardAtStls)) {
      parser_.discard_buffered();
      check(parser_.buffered_bytes() == 0);
      check(parser_.next().type == Type::NeedMore);
      in_tls_ = mode_ == Mode::TlsAtStls;
    }
  }

  void log_in() {
    if (mode_ != Mode::HandOverAtLogin) return;
    const std::size_t buffered = parser_.buffered_bytes();
    forwarded_ = parser_.take_unparsed();
    check(forwarded_.size() == buffered);
    check(parser_.buffered_bytes() == 0);
    logged_in_ = true;
  }

  Parser parser_;
  std::size_t max_line_bytes_;
  Mode mode_;
  bool saw_fatal_error_ = false;
  bool logged_in_ = false;
  bool in_tls_ = false;
  std::size_t sasl_lines_wanted_ = 0;
  std::vector<Event> events_;
  std::string forwarded_;
};

bool same_outcome(const Run& a, const Run& b) {
  return same_events(a.events(), b.events()) && a.forwarded() == b.forwarded();
}

// Chunks of 1 to 16 bytes, sizes from a xorshift generator.
void feed_in_small_chunks(Run& run, std::string_view input, std::uint32_t seed) {
  podgate::fuzz::feed_in_small_chunks(input, seed,
                                      [&](std::string_view chunk) { run.feed(chunk); });
}

void check_mode(std::string_view input, std::size_t max_line_bytes, std::uint32_t seed, Mode mode) {
  Run whole(max_line_bytes, mode);
  whole.feed(input);
  // The pod gets exactly the bytes after the line that completed the login.
  const std::string& forwarded = whole.forwarded();
  check(forwarded.size() <= input.size());
  check(input.substr(input.size() - forwarded.size()) == forwarded);

  Run small_chunks(max_line_bytes, mode);
  feed_in_small_chunks(small_chunks, input, seed);
  check(same_outcome(whole, small_chunks));

  Run in_two(max_line_bytes, mode);
  const std::size_t cut = input.empty() ? 0 : seed % (input.size() + 1);
  in_two.feed(input.substr(0, cut));
  in_two.feed(input.substr(cut));
  check(same_outcome(whole, in_two));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < kHeaderBytes) return 0;
  const std::size_t max_line_bytes =
      data[0] == 0xff ? Parser::kDefaultMaxLineBytes : 4 + std::size_t{data[0]} * 2;
  const std::uint32_t seed = std::uint32_t{data[1]} << 8 | data[2];
  const std::string_view input(reinterpret_cast<const char*>(data) + kHeaderBytes,
                               size - kHeaderBytes);

  check_mode(input, max_line_bytes, seed, Mode::Plain);
  check_mode(input, max_line_bytes, seed, Mode::HandOverAtLogin);
  check_mode(input, max_line_bytes, seed, Mode::TlsAtStls);
  // Not differential: what survives STLS depends on what was buffered.
  Run discard(max_line_bytes, Mode::DiscardAtStls);
  feed_in_small_chunks(discard, input, seed);
  return 0;
}
