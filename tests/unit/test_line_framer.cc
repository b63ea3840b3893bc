// The line framer under the POP3 and SMTP parsers. Most inputs go through
// frame_everywhere(): framed whole, then split in two at every offset and fed
// one byte at a time; every run must give the same lines as the whole one.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "proxy/protocol/line_framer.h"

namespace {

using namespace std::string_literals;
using podgate::protocol::FramedLine;
using podgate::protocol::LineFramer;
using Kind = FramedLine::Kind;

constexpr std::size_t kRoomyLimit = 1024;

std::string describe(const FramedLine& line) {
  switch (line.kind) {
    case Kind::NeedMore:
      return "need more";
    case Kind::Line:
      return "line <" + std::string(line.text) + ">";
    case Kind::SaslResponse:
      return "sasl <" + std::string(line.text) + ">";
    case Kind::TooLong:
      return "too long";
  }
  return "?";
}

// Feeds the chunks in order and drains next_line() after each, as a parser
// would. A line reading "AUTH" asks for the next one as a SASL response, the
// way a session answers AUTH with a challenge.
std::vector<std::string> frame_chunks(const std::vector<std::string_view>& chunks,
                                      std::size_t max_line_bytes) {
  LineFramer framer(max_line_bytes);
  std::vector<std::string> lines;
  for (std::string_view chunk : chunks) {
    framer.feed(chunk);
    for (FramedLine line = framer.next_line(); line.kind != Kind::NeedMore;
         line = framer.next_line()) {
      lines.push_back(describe(line));
      if (line.kind == Kind::Line && line.text == "AUTH") framer.expect_sasl_response();
    }
    CHECK(framer.buffered_bytes() <= max_line_bytes);
  }
  return lines;
}

std::vector<std::string> frame_everywhere(std::string_view input,
                                          std::size_t max_line_bytes = kRoomyLimit) {
  const std::vector<std::string> whole = frame_chunks({input}, max_line_bytes);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    INFO("split at " << cut);
    CHECK(frame_chunks({input.substr(0, cut), input.substr(cut)}, max_line_bytes) == whole);
  }
  std::vector<std::string_view> single_bytes;
  for (std::size_t i = 0; i < input.size(); ++i) single_bytes.push_back(input.substr(i, 1));
  INFO("one byte at a time");
  CHECK(frame_chunks(single_bytes, max_line_bytes) == whole);
  return whole;
}

using Lines = std::vector<std::string>;

}  // namespace

TEST_CASE("Line framer: CRLF and bare LF both end a line, however the input is split",
          "[line_framer]") {
  CHECK(frame_everywhere("NOOP\r\nUSER alice\nQUIT\r\n") ==
        Lines{"line <NOOP>", "line <USER alice>", "line <QUIT>"});
  CHECK(frame_everywhere("\r\n\n") == Lines{"line <>", "line <>"});
}

TEST_CASE("Line framer: only the CR right before LF is dropped, NULs stay", "[line_framer]") {
  CHECK(frame_everywhere("a\rb\r\r\n\rc\n") == Lines{"line <a\rb\r>", "line <\rc>"});
  CHECK(frame_everywhere("NO\0OP\r\n"s) == Lines{"line <NO\0OP>"s});
}

TEST_CASE("Line framer: an unfinished line waits for its LF", "[line_framer]") {
  LineFramer framer(kRoomyLimit);
  framer.feed("NO");
  CHECK(framer.next_line().kind == Kind::NeedMore);
  framer.feed("OP\r");
  CHECK(framer.next_line().kind == Kind::NeedMore);
  CHECK(framer.buffered_bytes() == 5);
  framer.feed("\n");
  const FramedLine line = framer.next_line();
  CHECK(line.kind == Kind::Line);
  CHECK(line.text == "NOOP");
  CHECK(framer.next_line().kind == Kind::NeedMore);
  CHECK(framer.buffered_bytes() == 0);
}

TEST_CASE("Line framer: a line of exactly the limit, terminator included, passes",
          "[line_framer]") {
  CHECK(frame_everywhere("12345678\r\n123456789\nQUIT\n", 10) ==
        Lines{"line <12345678>", "line <123456789>", "line <QUIT>"});
}

TEST_CASE("Line framer: one byte over the limit is fatal, with or without the LF",
          "[line_framer]") {
  for (std::string_view over : {"123456789\r\n", "1234567890\n", "12345678901", "123456789\rx"}) {
    INFO(over);
    CHECK(frame_everywhere("QUIT\n" + std::string(over) + "NOOP\r\nQUIT\n", 10) ==
          Lines{"line <QUIT>", "too long"});
  }
}

TEST_CASE("Line framer: a line over the limit fails before its LF arrives", "[line_framer]") {
  LineFramer framer(10);
  for (std::size_t i = 1; i <= 10; ++i) {
    framer.feed("x");
    REQUIRE(framer.next_line().kind == Kind::NeedMore);
    REQUIRE(framer.buffered_bytes() == i);
  }
  framer.feed("x");
  CHECK(framer.next_line().kind == Kind::TooLong);
  CHECK(framer.buffered_bytes() == 0);

  // Nothing is kept and nothing comes out any more.
  framer.feed("NOOP\r\n");
  CHECK(framer.buffered_bytes() == 0);
  CHECK(framer.next_line().kind == Kind::NeedMore);
  CHECK(framer.take_unparsed().empty());
}

TEST_CASE("Line framer: the line after expect_sasl_response comes back raw, once",
          "[line_framer]") {
  CHECK(frame_everywhere("AUTH\r\nNOOP\r\nNOOP\r\n") ==
        Lines{"line <AUTH>", "sasl <NOOP>", "line <NOOP>"});
  CHECK(frame_everywhere("AUTH\n a\0\rb \r\nAUTH\n*\n"s) ==
        Lines{"line <AUTH>", "sasl < a\0\rb >"s, "line <AUTH>", "sasl <*>"});
  CHECK(frame_everywhere("AUTH\r\n\r\n") == Lines{"line <AUTH>", "sasl <>"});
}

TEST_CASE("Line framer: a SASL line is bound by the same limit", "[line_framer]") {
  CHECK(frame_everywhere("AUTH\r\n123456789\r\nNOOP\r\n", 10) == Lines{"line <AUTH>", "too long"});
}

TEST_CASE("Line framer: expect_sasl_response applies to a line still arriving", "[line_framer]") {
  LineFramer framer(kRoomyLimit);
  framer.feed("dXNl");
  CHECK(framer.next_line().kind == Kind::NeedMore);
  framer.expect_sasl_response();
  framer.feed("cg==\r\nNOOP\r\n");
  const FramedLine sasl = framer.next_line();
  CHECK(sasl.kind == Kind::SaslResponse);
  CHECK(sasl.text == "dXNlcg==");
  const FramedLine command = framer.next_line();
  CHECK(command.kind == Kind::Line);
  CHECK(command.text == "NOOP");
}

TEST_CASE("Line framer: discard_buffered drops pipelined lines and a half-read one",
          "[line_framer]") {
  LineFramer framer(kRoomyLimit);
  framer.feed("STLS\r\nUSER a\r\nPASS b\r\nNO");
  CHECK(framer.next_line().text == "STLS");
  framer.discard_buffered();
  CHECK(framer.buffered_bytes() == 0);
  CHECK(framer.next_line().kind == Kind::NeedMore);

  // What arrives next is framed afresh, not glued to the dropped "NO".
  framer.feed("CAPA\r\n");
  const FramedLine line = framer.next_line();
  CHECK(line.kind == Kind::Line);
  CHECK(line.text == "CAPA");
  CHECK(framer.next_line().kind == Kind::NeedMore);
}

TEST_CASE("Line framer: take_unparsed hands over what follows and empties the framer",
          "[line_framer]") {
  LineFramer framer(kRoomyLimit);
  framer.feed("PASS x\r\nSTAT\r\n\0LI"s);
  CHECK(framer.next_line().text == "PASS x");
  CHECK(framer.buffered_bytes() == 9);
  CHECK(framer.take_unparsed() == "STAT\r\n\0LI"s);
  CHECK(framer.buffered_bytes() == 0);
  CHECK(framer.next_line().kind == Kind::NeedMore);
  CHECK(framer.take_unparsed().empty());
}

TEST_CASE("Line framer: take_unparsed hands over the same bytes at every split point",
          "[line_framer]") {
  const std::string_view input = "USER a\r\nPASS b\r\nSTAT\r\nRETR 1\nLI";
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    INFO("split at " << cut);
    LineFramer framer(kRoomyLimit);
    std::string handed_over;
    bool logged_in = false;
    for (std::string_view chunk : {input.substr(0, cut), input.substr(cut)}) {
      if (logged_in) {
        handed_over.append(chunk);
        continue;
      }
      framer.feed(chunk);
      for (FramedLine line = framer.next_line(); line.kind != Kind::NeedMore;
           line = framer.next_line()) {
        if (line.text != "PASS b") continue;
        handed_over = framer.take_unparsed();
        logged_in = true;
        break;
      }
    }
    CHECK(logged_in);
    CHECK(handed_over == "STAT\r\nRETR 1\nLI");
  }
}
