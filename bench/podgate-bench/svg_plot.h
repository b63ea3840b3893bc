// The latency distribution of every phase as one self-contained SVG: a CDF
// per phase (x: milliseconds on a log scale, y: share of logins at or below),
// axes with decade ticks, and a legend with each phase's p50 and p99. Pure:
// samples in, document out.
#pragma once

#include <string>

#include "bench/podgate-bench/latency.h"

namespace podgate::bench {

// `samples` must be sorted (PhaseSamples::sort); phases without samples are
// left out. Every curve is a <path> with data-phase="<phase name>".
std::string latency_cdf_svg(const PhaseSamples& samples, const std::string& title);

}  // namespace podgate::bench
