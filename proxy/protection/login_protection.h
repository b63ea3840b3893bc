// The login guard as podgate uses it: on the monotonic clock, with one log
// line per lockout start and end, and what /metrics shows of it:
//  - podgate_protection_lockouts_total{kind}: lockouts started;
//  - podgate_protection_refused_total{kind}: logins refused by a lockout
//    (answered like a wrong password, never sent to a pod);
//  - podgate_protection_tarpitted_total: failure answers held back longer;
//  - podgate_protection_entries{table}: the tracker's table sizes, and
//    podgate_protection_entries_limit, their bound;
//  - podgate_protection_active_lockouts, and podgate_protection_in_flight:
//    admitted guesses whose verdict is still to come.
// Shared by every worker (the guard locks); sweep() runs on the control loop.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/metrics.h"
#include "proxy/config.h"
#include "proxy/login_outcome.h"
#include "proxy/protection/login_guard.h"

namespace podgate::proxy {

class LoginProtection {
 public:
  explicit LoginProtection(core::metrics::Registry& metrics);

  LoginAttempt attempt(std::string_view user, std::string_view password,
                       const std::string& address) const {
    return guard_.attempt(user, password, address);
  }
  // A login the guard let through, in flight until its verdict. Whatever
  // ends the session, the guard hears of the attempt exactly once: through
  // conclude(), or (no verdict) when the ticket goes.
  class Ticket {
   public:
    Ticket(LoginProtection& protection, LoginAttempt attempt)
        : protection_(&protection), attempt_(std::move(attempt)) {}
    ~Ticket();
    Ticket(Ticket&& other) noexcept;
    Ticket& operator=(Ticket&&) = delete;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;

    // The login's outcome: a wrong guess is counted (the return value is
    // the extra wait for its answer), a right one forgiven, anything else
    // only ends the attempt.
    std::uint32_t conclude(LoginOutcome outcome, const ProtectionConfig& config);

   private:
    LoginProtection* protection_;  // null once concluded (or moved from)
    LoginAttempt attempt_;
  };

  // The lock that refuses this login now (counted as a refusal), or a
  // ticket for the login in flight.
  std::variant<LoginGuard::Refusal, Ticket> admit(LoginAttempt attempt,
                                                  const ProtectionConfig& config);
  // Ends the lockouts that are over (and logs them), and forgets what is no
  // longer worth counting.
  void sweep(const ProtectionConfig& config);

 private:
  // A wrong password or unknown user: the extra wait for the answer.
  std::uint32_t failed(const LoginAttempt& attempt, const ProtectionConfig& config);
  static std::int64_t now_ms();
  core::metrics::Counter& per_kind(std::array<core::metrics::Counter*, 4>& counters,
                                   LockKind kind) {
    return *counters[static_cast<std::size_t>(kind)];
  }

  LoginGuard guard_;
  std::array<core::metrics::Counter*, 4> lockouts_{};
  std::array<core::metrics::Counter*, 4> refused_{};
  core::metrics::Counter* tarpitted_ = nullptr;
};

}  // namespace podgate::proxy
