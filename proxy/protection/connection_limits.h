// The connection limits every worker shares (limits.max_connections,
// limits.max_connections_per_address) and the counters of the limits a
// session enforces on itself (limits.max_auth_attempts). One per process,
// made from the configuration at start-up.
#pragma once

#include "core/metrics.h"
#include "proxy/config.h"
#include "proxy/protection/address_connection_limiter.h"
#include "proxy/protection/connection_budget.h"

namespace podgate::proxy {

struct ConnectionLimits {
  ConnectionLimits(const Limits& limits, core::metrics::Registry& metrics);

  ConnectionBudget budget;
  AddressConnectionLimiter per_address;
  // podgate_connections_limited_total{limit=...}: connections refused or
  // closed by a limit, labelled with the limit's configuration key.
  core::metrics::Counter& over_address_limit;
  core::metrics::Counter& over_auth_attempts;
};

}  // namespace podgate::proxy
