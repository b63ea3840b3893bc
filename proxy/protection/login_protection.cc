#include "proxy/protection/login_protection.h"

#include <spdlog/spdlog.h>

#include "core/timer.h"

namespace podgate::proxy {

namespace {
constexpr std::array<LockKind, 4> kKinds{LockKind::Address, LockKind::User, LockKind::UserAddress,
                                         LockKind::Password};
}

LoginProtection::LoginProtection(core::metrics::Registry& metrics) {
  using core::metrics::label;
  for (LockKind kind : kKinds) {
    std::string labels = label("kind", to_string(kind));
    lockouts_[static_cast<std::size_t>(kind)] =
        &metrics.counter("podgate_protection_lockouts_total",
                         "Brute-force lockouts started, by what is locked", labels);
    refused_[static_cast<std::size_t>(kind)] = &metrics.counter(
        "podgate_protection_refused_total",
        "Logins refused by a lockout without asking a pod, by what is locked", labels);
  }
  tarpitted_ = &metrics.counter("podgate_protection_tarpitted_total",
                                "Failure answers held back longer after repeated failures");
  struct TableSize {
    const char* name;
    std::size_t LoginGuard::Sizes::*size;
  };
  for (TableSize table : {TableSize{"address", &LoginGuard::Sizes::address},
                          TableSize{"user", &LoginGuard::Sizes::user},
                          TableSize{"user_address", &LoginGuard::Sizes::user_address},
                          TableSize{"password", &LoginGuard::Sizes::password},
                          TableSize{"known_good", &LoginGuard::Sizes::known_good}}) {
    metrics.gauge_callback("podgate_protection_entries", "Entries in the login guard's tables",
                           label("table", table.name), [this, size = table.size] {
                             return static_cast<double>(guard_.sizes().*size);
                           });
  }
  metrics.gauge_callback("podgate_protection_active_lockouts", "Lockouts in force now", "",
                         [this] { return static_cast<double>(guard_.sizes().locked); });
  metrics.gauge_callback("podgate_protection_in_flight",
                         "Logins the guard let through whose verdict is still to come", "",
                         [this] { return static_cast<double>(guard_.sizes().in_flight); });
}

std::int64_t LoginProtection::now_ms() {
  return static_cast<std::int64_t>(core::now_ns() / 1000000);
}

std::variant<LoginGuard::Refusal, LoginProtection::Ticket> LoginProtection::admit(
    LoginAttempt attempt, const ProtectionConfig& config) {
  if (std::optional<LoginGuard::Refusal> refusal = guard_.admit(attempt, config, now_ms())) {
    per_kind(refused_, refusal->kind).add();
    return *refusal;
  }
  return Ticket(*this, std::move(attempt));
}

LoginProtection::Ticket::Ticket(Ticket&& other) noexcept
    : protection_(std::exchange(other.protection_, nullptr)), attempt_(std::move(other.attempt_)) {}

LoginProtection::Ticket::~Ticket() {
  if (protection_) protection_->guard_.release(attempt_);
}

std::uint32_t LoginProtection::Ticket::conclude(LoginOutcome outcome,
                                                const ProtectionConfig& config) {
  LoginProtection* protection = std::exchange(protection_, nullptr);
  if (protection == nullptr) return 0;
  if (is_wrong_guess(outcome)) return protection->failed(attempt_, config);
  if (is_right_guess(outcome)) {
    protection->guard_.record_success(attempt_, config, now_ms());
  } else {
    protection->guard_.release(attempt_);
  }
  return 0;
}

std::uint32_t LoginProtection::failed(const LoginAttempt& attempt, const ProtectionConfig& config) {
  LoginGuard::FailureOutcome outcome = guard_.record_failure(attempt, config, now_ms());
  for (const Lockout& lockout : outcome.started) {
    per_kind(lockouts_, lockout.kind).add();
    spdlog::warn("lockout start: {} {} after {} failed logins; refused for {} s",
                 to_string(lockout.kind), lockout.subject, lockout.failures,
                 config.lockout_seconds);
  }
  if (outcome.tarpit_ms > 0) tarpitted_->add();
  return outcome.tarpit_ms;
}

void LoginProtection::sweep(const ProtectionConfig& config) {
  // Ended lockouts first, while their counters are there to report on.
  for (const Lockout& lockout : guard_.expire(now_ms())) {
    spdlog::info("lockout end: {} {}", to_string(lockout.kind), lockout.subject);
  }
  guard_.prune(config, now_ms());
}

}  // namespace podgate::proxy
