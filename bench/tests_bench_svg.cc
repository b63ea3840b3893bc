// The latency plot is well-formed XML with one curve per phase that has samples.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "bench/podgate-bench/svg_plot.h"

using namespace podgate::bench;

namespace {

// Enough of an XML checker for our own output: every element closed in order,
// attributes quoted, no stray '<' or '&'.
bool well_formed(const std::string& xml) {
  std::vector<std::string> open;
  std::size_t at = 0;
  bool root_seen = false;
  while ((at = xml.find('<', at)) != std::string::npos) {
    std::size_t end = xml.find('>', at);
    if (end == std::string::npos) return false;
    std::string tag = xml.substr(at + 1, end - at - 1);
    at = end + 1;
    if (tag.starts_with("?")) continue;
    if (tag.find('<') != std::string::npos) return false;
    std::size_t quotes = 0;
    for (char c : tag) quotes += c == '"';
    if (quotes % 2 != 0) return false;
    if (tag.starts_with("/")) {
      if (open.empty() || open.back() != tag.substr(1)) return false;
      open.pop_back();
      continue;
    }
    std::string name = tag.substr(0, tag.find_first_of(" /"));
    if (open.empty()) {
      if (root_seen) return false;  // one root element only
      root_seen = true;
    }
    if (!tag.ends_with("/")) open.push_back(name);
  }
  for (std::size_t amp = xml.find('&'); amp != std::string::npos; amp = xml.find('&', amp + 1)) {
    std::string entity = xml.substr(amp, 6);
    if (!entity.starts_with("&lt;") && !entity.starts_with("&gt;") &&
        !entity.starts_with("&amp;") && !entity.starts_with("&quot;")) {
      return false;
    }
  }
  return root_seen && open.empty();
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("The checker itself rejects broken XML", "[bench][svg]") {
  CHECK(well_formed("<svg><g></g><path d=\"M1,2\"/></svg>"));
  CHECK_FALSE(well_formed("<svg><g></svg></g>"));
  CHECK_FALSE(well_formed("<svg><text>a < b</text></svg>"));
  CHECK_FALSE(well_formed("<svg><text>a & b</text></svg>"));
  CHECK_FALSE(well_formed("<svg></svg><svg></svg>"));
}

TEST_CASE("One CDF path per phase with samples", "[bench][svg]") {
  PhaseSamples samples;
  for (int i = 1; i <= 5000; ++i) {
    samples.add(Phase::Connect, 0.05 + i * 0.0001);
    samples.add(Phase::Auth, 2.0 + i * 0.01);
    samples.add(Phase::Total, 3.0 + i * 0.02);
  }
  samples.add(Phase::Greeting, 0);  // a log scale has no zero: drawn at its floor
  samples.sort();
  std::string svg = latency_cdf_svg(samples, "imap <implicit> & co");
  CHECK(well_formed(svg));
  CHECK(svg.starts_with("<?xml"));
  CHECK(count(svg, "<path ") == 4);
  for (const char* phase : {"connect", "greeting", "auth", "total"}) {
    CHECK(count(svg, std::string("data-phase=\"") + phase + "\"") == 1);
  }
  CHECK(count(svg, "data-phase=\"tls\"") == 0);
  CHECK(svg.find("imap &lt;implicit&gt; &amp; co") != std::string::npos);
  CHECK(svg.find("latency (ms, log scale)") != std::string::npos);
  // Decade ticks from 0.001 ms (the greeting's zero, drawn at the floor) to
  // 1000 ms (the slowest total, 103 ms, rounded up to a decade).
  CHECK(svg.find(">0.001<") != std::string::npos);
  CHECK(svg.find(">1000<") != std::string::npos);
  // A curve has at most ~1000 points however many samples there are.
  std::size_t path = svg.find("data-phase=\"total\"");
  std::size_t path_end = svg.find("/>", path);
  CHECK(count(svg.substr(path, path_end - path), " L") <= 2 * 1000);
}

TEST_CASE("No samples: still a valid picture, without curves", "[bench][svg]") {
  std::string svg = latency_cdf_svg(PhaseSamples{}, "nothing");
  CHECK(well_formed(svg));
  CHECK(count(svg, "<path ") == 0);
  CHECK(svg.find("no successful logins") != std::string::npos);
}
