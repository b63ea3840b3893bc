#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "proxy/protocol/imap/response_boundary.h"

using podgate::imap::ResponseBoundary;

namespace {

// Whether the tracker is at a line start after each prefix of `stream`, fed
// whole prefixes at once.
std::vector<bool> boundaries_whole(const std::string& stream) {
  std::vector<bool> out;
  for (std::size_t i = 0; i <= stream.size(); ++i) {
    ResponseBoundary tracker;
    tracker.feed(stream.substr(0, i));
    out.push_back(tracker.at_line_start());
  }
  return out;
}

std::vector<bool> boundaries_byte_by_byte(const std::string& stream) {
  std::vector<bool> out;
  ResponseBoundary tracker;
  out.push_back(tracker.at_line_start());
  for (char c : stream) {
    tracker.feed(std::string_view(&c, 1));
    out.push_back(tracker.at_line_start());
  }
  return out;
}

}  // namespace

TEST_CASE("Line ends are boundaries, except inside literals", "[imap_boundary]") {
  std::string stream =
      "* 1 FETCH (BODY[] {12}\r\nab\r\n\r\n* BYE x)\r\n"
      "a1 OK done\r\n";
  auto whole = boundaries_whole(stream);
  CHECK(whole == boundaries_byte_by_byte(stream));
  // Inside the 12-byte literal the "\r\n"s do not count...
  std::size_t literal_start = stream.find("ab");
  for (std::size_t i = literal_start; i < literal_start + 12; ++i) CHECK_FALSE(whole[i]);
  // ...after ")\r\n" and "done\r\n" they do.
  CHECK(whole[stream.find("a1 OK")]);
  CHECK(whole[stream.size()]);
  CHECK(whole[0]);
}

TEST_CASE("Literals with a plus, a zero size or split announcements", "[imap_boundary]") {
  std::string stream = "* 2 FETCH (X {3+}\r\nabc Y {0}\r\n Z)\r\n* OK\r\n";
  auto whole = boundaries_whole(stream);
  CHECK(whole == boundaries_byte_by_byte(stream));
  CHECK_FALSE(whole[stream.find("abc") + 1]);
  CHECK_FALSE(whole[stream.find(" Z)")]);  // a zero-length literal continues the line
  CHECK(whole[stream.find("* OK")]);
}

TEST_CASE("Braces that are not a literal announcement are plain text", "[imap_boundary]") {
  for (std::string line : {"* OK {abc}\r\n", "* OK }\r\n", "* OK {}\r\n",
                           "* OK {99999999999999999999}\r\n", "* OK {12} \r\n"}) {
    ResponseBoundary tracker;
    tracker.feed(line);
    CHECK(tracker.at_line_start());
  }
}

TEST_CASE("A long line does not grow the tracker", "[imap_boundary]") {
  ResponseBoundary tracker;
  tracker.feed("* OK " + std::string(1 << 20, 'x'));
  CHECK_FALSE(tracker.at_line_start());
  tracker.feed(" {5}\r\n12345\r\n");
  CHECK(tracker.at_line_start());
}
