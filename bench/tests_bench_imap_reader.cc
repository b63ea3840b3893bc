// ImapResponseReader: lines come out the same however the bytes are split,
// and literal contents are counted, never taken for lines.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "bench/podgate-bench/imap_reader.h"

using podgate::bench::ImapResponseReader;

namespace {

struct Read {
  std::vector<std::string> lines;
  std::uint64_t literal_bytes = 0;
  bool broken = false;
  bool operator==(const Read&) const = default;
};

Read read_in_chunks(const std::string& stream, std::size_t chunk) {
  ImapResponseReader reader;
  Read read;
  for (std::size_t at = 0; at < stream.size(); at += chunk) {
    reader.feed(std::string_view(stream).substr(at, chunk));
    while (auto line = reader.next_line()) read.lines.emplace_back(*line);
  }
  read.literal_bytes = reader.literal_bytes();
  read.broken = reader.broken();
  return read;
}

}  // namespace

TEST_CASE("IMAP reader: lines, literals and splits", "[bench][imap_reader]") {
  std::string stream =
      "* OK ready\r\n"
      "* 1 FETCH (BODY[HEADER] {17}\r\nA1 OK fake\r\n{3}\r\n BODY[TEXT] {0}\r\n UID 7)\r\n"
      "* 2 FETCH (BODY[] {5}\r\n\r\n\r\n\n)\r\n"
      "bare line feed\n"
      "A1 OK done\r\n";
  Read whole = read_in_chunks(stream, stream.size());
  CHECK(whole.lines == std::vector<std::string>{
                           "* OK ready",
                           "* 1 FETCH (BODY[HEADER] {17} BODY[TEXT] {0} UID 7)",
                           "* 2 FETCH (BODY[] {5})",
                           "bare line feed",
                           "A1 OK done",
                       });
  CHECK(whole.literal_bytes == 22);
  CHECK_FALSE(whole.broken);
  for (std::size_t chunk = 1; chunk <= 17; ++chunk) {
    INFO("chunk " << chunk);
    CHECK(read_in_chunks(stream, chunk) == whole);
  }
}

TEST_CASE("IMAP reader: a large literal is skipped, not buffered", "[bench][imap_reader]") {
  ImapResponseReader reader;
  reader.feed("* 1 FETCH (BODY[] {10000000}\r\n");
  std::string block(64 * 1024, '\n');  // line feeds inside the literal are not line ends
  std::uint64_t left = 10000000;
  while (left > 0) {
    std::size_t n = std::min<std::uint64_t>(left, block.size());
    reader.feed(std::string_view(block).substr(0, n));
    left -= n;
    CHECK_FALSE(reader.next_line());
  }
  reader.feed(")\r\nF OK done\r\n");
  CHECK(reader.next_line() == "* 1 FETCH (BODY[] {10000000})");
  CHECK(reader.next_line() == "F OK done");
  CHECK_FALSE(reader.next_line());
  CHECK(reader.literal_bytes() == 10000000);
}

TEST_CASE("IMAP reader: an endless line breaks it for good", "[bench][imap_reader]") {
  ImapResponseReader reader;
  reader.feed("* OK ");
  reader.feed(std::string(ImapResponseReader::kMaxLineBytes, 'x'));
  CHECK(reader.broken());
  reader.feed("\r\nA OK\r\n");
  CHECK_FALSE(reader.next_line());
}

TEST_CASE("IMAP reader: STARTTLS drops what is buffered", "[bench][imap_reader]") {
  ImapResponseReader reader;
  reader.feed("S OK begin\r\nA OK injected\r\n* partial");
  CHECK(reader.next_line() == "S OK begin");
  reader.discard_buffered();
  CHECK_FALSE(reader.next_line());
  reader.feed(" line\r\n");
  CHECK(reader.next_line() == " line");
}
