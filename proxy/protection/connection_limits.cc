#include "proxy/protection/connection_limits.h"

namespace podgate::proxy {

namespace {

constexpr const char* kLimitedHelp = "Client connections refused or closed by a limit";

}  // namespace

ConnectionLimits::ConnectionLimits(const Limits& limits, core::metrics::Registry& metrics)
    : budget(limits.max_connections, &metrics),
      per_address(limits.max_connections_per_address),
      over_address_limit(
          metrics.counter("podgate_connections_limited_total", kLimitedHelp,
                          core::metrics::label("limit", "max_connections_per_address"))),
      over_auth_attempts(metrics.counter("podgate_connections_limited_total", kLimitedHelp,
                                         core::metrics::label("limit", "max_auth_attempts"))) {}

}  // namespace podgate::proxy
