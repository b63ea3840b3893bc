#include "bench/podgate-bench/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace podgate::bench {

namespace {

constexpr double kWidth = 960;
constexpr double kHeight = 500;
constexpr double kLeft = 70;
constexpr double kRight = 290;  // room for the legend
constexpr double kTop = 50;
constexpr double kBottom = 60;
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr double kPlotHeight = kHeight - kTop - kBottom;
// A log scale has no zero; below a microsecond nothing on a network is real.
constexpr double kFloorMs = 0.001;
// Enough points for a smooth curve without a megabyte of SVG per million logins.
constexpr std::size_t kMaxPointsPerCurve = 1000;

const char* colour_of(Phase phase) {
  switch (phase) {
    case Phase::Connect:
      return "#1f77b4";
    case Phase::Tls:
      return "#ff7f0e";
    case Phase::Greeting:
      return "#2ca02c";
    case Phase::Auth:
      return "#d62728";
    case Phase::Command:
      return "#9467bd";
    case Phase::Logout:
      return "#8c564b";
    case Phase::Total:
      return "#000000";
    case Phase::Queue:
      return "#17becf";
  }
  return "#7f7f7f";
}

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", value);
  return buffer;
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        // Control characters are not allowed in XML 1.0 text.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
    }
  }
  return out;
}

std::string milliseconds_label(double ms) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", ms);
  return buffer;
}

struct Scale {
  int low_decade = 0;   // x axis from 10^low_decade ms
  int high_decade = 0;  // to 10^high_decade ms

  double x(double ms) const {
    double decades = std::log10(std::max(ms, kFloorMs)) - low_decade;
    return kLeft + decades / (high_decade - low_decade) * kPlotWidth;
  }
  static double y(double share) { return kTop + (1 - share) * kPlotHeight; }
};

Scale scale_for(const PhaseSamples& samples) {
  double low = 0;
  double high = 0;
  bool any = false;
  for (const auto& phase : samples.by_phase) {
    if (phase.empty()) continue;
    low = any ? std::min(low, phase.front()) : phase.front();
    high = any ? std::max(high, phase.back()) : phase.back();
    any = true;
  }
  if (!any) return {0, 1};
  Scale scale;
  scale.low_decade = static_cast<int>(std::floor(std::log10(std::max(low, kFloorMs))));
  scale.high_decade = static_cast<int>(std::ceil(std::log10(std::max(high, kFloorMs))));
  if (scale.high_decade <= scale.low_decade) scale.high_decade = scale.low_decade + 1;
  return scale;
}

// A step-shaped CDF through at most kMaxPointsPerCurve samples.
std::string curve(const std::vector<double>& sorted, const Scale& scale) {
  std::size_t n = sorted.size();
  std::size_t points = std::min(n, kMaxPointsPerCurve);
  // Appended piece by piece: GCC 12 misreads "M" + std::string as an
  // overlapping copy (-Wrestrict, GCC bug 105329).
  std::string d = "M";
  d += number(scale.x(sorted.front()));
  d += ',';
  d += number(Scale::y(0));
  double previous_share = 0;
  for (std::size_t k = 0; k < points; ++k) {
    std::size_t i = points == 1 ? n - 1 : k * (n - 1) / (points - 1);
    double x = scale.x(sorted[i]);
    double share = static_cast<double>(i + 1) / static_cast<double>(n);
    if (k > 0) d += " L" + number(x) + "," + number(Scale::y(previous_share));
    d += " L" + number(x) + "," + number(Scale::y(share));
    previous_share = share;
  }
  return d;
}

}  // namespace

std::string latency_cdf_svg(const PhaseSamples& samples, const std::string& title) {
  Scale scale = scale_for(samples);
  std::string svg =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
      number(kWidth) + "\" height=\"" + number(kHeight) + "\" viewBox=\"0 0 " + number(kWidth) +
      " " + number(kHeight) +
      "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect x=\"0\" y=\"0\" width=\"" +
      number(kWidth) + "\" height=\"" + number(kHeight) + "\" fill=\"#ffffff\"/>\n";
  svg +=
      "<text x=\"" + number(kLeft) + "\" y=\"25\" font-size=\"15\">" + escape(title) + "</text>\n";

  // Grid and ticks: decades on x, quarters on y.
  svg += "<g stroke=\"#dddddd\" stroke-width=\"1\">\n";
  for (int decade = scale.low_decade; decade <= scale.high_decade; ++decade) {
    double x = scale.x(std::pow(10.0, decade));
    svg += "<line x1=\"" + number(x) + "\" y1=\"" + number(kTop) + "\" x2=\"" + number(x) +
           "\" y2=\"" + number(kTop + kPlotHeight) + "\"/>\n";
  }
  for (int quarter = 0; quarter <= 4; ++quarter) {
    double y = Scale::y(quarter / 4.0);
    svg += "<line x1=\"" + number(kLeft) + "\" y1=\"" + number(y) + "\" x2=\"" +
           number(kLeft + kPlotWidth) + "\" y2=\"" + number(y) + "\"/>\n";
  }
  svg += "</g>\n<g>\n";
  for (int decade = scale.low_decade; decade <= scale.high_decade; ++decade) {
    double x = scale.x(std::pow(10.0, decade));
    svg += "<text x=\"" + number(x) + "\" y=\"" + number(kTop + kPlotHeight + 18) +
           "\" text-anchor=\"middle\">" + milliseconds_label(std::pow(10.0, decade)) + "</text>\n";
  }
  for (int quarter = 0; quarter <= 4; ++quarter) {
    svg += "<text x=\"" + number(kLeft - 8) + "\" y=\"" + number(Scale::y(quarter / 4.0) + 4) +
           "\" text-anchor=\"end\">" + std::to_string(quarter * 25) + "%</text>\n";
  }
  svg += "<text x=\"" + number(kLeft + kPlotWidth / 2) + "\" y=\"" + number(kHeight - 15) +
         "\" text-anchor=\"middle\">latency (ms, log scale)</text>\n";
  svg += "<text x=\"18\" y=\"" + number(kTop + kPlotHeight / 2) +
         "\" text-anchor=\"middle\" transform=\"rotate(-90 18 " + number(kTop + kPlotHeight / 2) +
         ")\">logins at or below</text>\n";
  svg += "<rect x=\"" + number(kLeft) + "\" y=\"" + number(kTop) + "\" width=\"" +
         number(kPlotWidth) + "\" height=\"" + number(kPlotHeight) +
         "\" fill=\"none\" stroke=\"#000000\"/>\n</g>\n";

  // One curve and one legend entry per phase that has samples.
  double legend_y = kTop + 10;
  bool any = false;
  for (Phase phase : kAllPhases) {
    const std::vector<double>& sorted = samples.of(phase);
    if (sorted.empty()) continue;
    any = true;
    const char* colour = colour_of(phase);
    svg += "<path data-phase=\"" + std::string(phase_name(phase)) + "\" d=\"" +
           curve(sorted, scale) + "\" fill=\"none\" stroke=\"" + colour +
           "\" stroke-width=\"1.5\"/>\n";
    double legend_x = kLeft + kPlotWidth + 15;
    LatencySummary summary = summarize(sorted);
    char label[96];
    std::snprintf(label, sizeof label, "%s (p50 %.3g, p99 %.3g ms)", phase_name(phase), summary.p50,
                  summary.p99);
    svg += "<line x1=\"" + number(legend_x) + "\" y1=\"" + number(legend_y) + "\" x2=\"" +
           number(legend_x + 20) + "\" y2=\"" + number(legend_y) + "\" stroke=\"" + colour +
           "\" stroke-width=\"2\"/>\n";
    svg += "<text x=\"" + number(legend_x + 26) + "\" y=\"" + number(legend_y + 4) + "\">" +
           escape(label) + "</text>\n";
    legend_y += 20;
  }
  if (!any) {
    svg += "<text x=\"" + number(kLeft + kPlotWidth / 2) + "\" y=\"" +
           number(kTop + kPlotHeight / 2) +
           "\" text-anchor=\"middle\">no successful logins</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace podgate::bench
