#include "proxy/protection/login_guard.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "backend-directory/directory.h"
#include "core/log_text.h"

namespace podgate::proxy {

namespace {

constexpr std::int64_t kMsPerSecond = 1000;

std::string hex(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// The user-and-address key: a NUL cannot occur in an address key.
std::string user_at(const std::string& user, const std::string& address) {
  return user + '\0' + address;
}

// A known-good address is spared these (never user_address: that is the
// guessing itself).
constexpr std::array<LockKind, 3> kSparedKinds{LockKind::Address, LockKind::User,
                                               LockKind::Password};

}  // namespace

// Forgets the failures and the lock, but not the guesses still in flight:
// their verdicts are yet to come.
void LoginGuard::start_over(Counter& counter) {
  auto in_flight = std::move(counter.in_flight);
  counter = Counter{};
  counter.in_flight = std::move(in_flight);
}

const char* to_string(LockKind kind) {
  switch (kind) {
    case LockKind::Address:
      return "address";
    case LockKind::User:
      return "user";
    case LockKind::UserAddress:
      return "user_address";
    case LockKind::Password:
      return "password";
  }
  return "unknown";
}

LoginGuard::LoginGuard()
    : LoginGuard([] {
        Key key{};
        RAND_bytes(key.data(), key.size());
        return key;
      }()) {}

LoginGuard::LoginGuard(const Key& key)
    : key_(key),
      tables_{{{LockKind::Address, &ProtectionConfig::address_failures, Counters(1)},
               {LockKind::User, &ProtectionConfig::user_failures, Counters(1)},
               {LockKind::UserAddress, &ProtectionConfig::user_address_failures, Counters(1)},
               {LockKind::Password, &ProtectionConfig::password_spray_users, Counters(1)}}},
      known_good_(1) {
  resize(ProtectionConfig{});
}

std::uint64_t LoginGuard::keyed_hash(std::string_view a, std::string_view b) const {
  // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
  std::string message;
  std::uint64_t a_length = a.size();
  message.append(reinterpret_cast<const char*>(&a_length), sizeof a_length);
  message.append(a);
  message.append(b);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  HMAC(EVP_sha256(), key_.data(), key_.size(),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
       &digest_length);
  std::uint64_t value = 0;
  std::memcpy(&value, digest, sizeof value);
  OPENSSL_cleanse(message.data(), message.size());  // it held a password
  return value;
}

LoginAttempt LoginGuard::attempt(std::string_view user, std::string_view password,
                                 std::string address) const {
  LoginAttempt attempt;
  attempt.user = directory::lower_case(user);
  attempt.address = std::move(address);
  attempt.user_password = keyed_hash(attempt.user, password);
  attempt.password = keyed_hash("", password);
  return attempt;
}

std::string LoginGuard::key_of(LockKind kind, const LoginAttempt& attempt) {
  switch (kind) {
    case LockKind::Address:
      return attempt.address;
    case LockKind::User:
      return attempt.user;
    case LockKind::UserAddress:
      return user_at(attempt.user, attempt.address);
    case LockKind::Password:
      return hex(attempt.password);
  }
  return "";
}

std::string LoginGuard::subject_of(LockKind kind, const std::string& key) {
  std::string subject;
  switch (kind) {
    case LockKind::UserAddress: {
      std::size_t nul = key.find('\0');
      subject = key.substr(0, nul) + " from " + key.substr(nul + 1);
      break;
    }
    case LockKind::Password:
      subject = "password #" + key;
      break;
    default:
      subject = key;
  }
  // A user name is the client's text: no line breaks into the log.
  return core::log_safe(subject);
}

void LoginGuard::resize(const ProtectionConfig& config) {
  for (Table& each : tables_) {
    if (each.counters.capacity() != config.table_entries) {
      each.counters.set_capacity(config.table_entries);
    }
  }
  if (known_good_.capacity() != config.known_good_entries) {
    known_good_.set_capacity(config.known_good_entries);
  }
}

bool LoginGuard::locked(LockKind kind, const std::string& key, std::int64_t now_ms) {
  const Counter* counter = table(kind).counters.find(key);
  return counter && counter->locked_until_ms > now_ms;
}

bool LoginGuard::known_good(const LoginAttempt& attempt, const ProtectionConfig& config,
                            std::int64_t now_ms) {
  const std::int64_t* last_success = known_good_.find(user_at(attempt.user, attempt.address));
  return last_success &&
         now_ms - *last_success < std::int64_t{config.known_good_seconds} * kMsPerSecond;
}

std::uint32_t LoginGuard::failures(LockKind kind, const LoginAttempt& attempt) {
  const Counter* counter = table(kind).counters.find(key_of(kind, attempt));
  return counter ? counter->failures : 0;
}

std::uint32_t LoginGuard::tarpit_ms(std::uint32_t failures_from_here,
                                    const ProtectionConfig& config) {
  if (failures_from_here < config.tarpit_after_failures) return 0;
  std::uint64_t steps = failures_from_here - config.tarpit_after_failures + 1;
  return static_cast<std::uint32_t>(
      std::min<std::uint64_t>(config.tarpit_max_ms, steps * config.tarpit_step_ms));
}

bool LoginGuard::full(LockKind kind, const LoginAttempt& attempt, const ProtectionConfig& config,
                      std::int64_t now_ms) {
  Table& each = table(kind);
  const Counter* counter = each.counters.find(key_of(kind, attempt));
  std::uint32_t threshold = config.*each.threshold;
  if (counter == nullptr) return threshold == 0;
  // Failures still counting: within the window, and not before a lock that
  // has ended (record_failure() starts those counters over).
  bool in_window =
      now_ms - counter->window_start_ms <= std::int64_t{config.window_seconds} * kMsPerSecond;
  std::uint32_t counted = counter->locked_until_ms == 0 && in_window ? counter->failures : 0;
  // The same guess again (counted, or in flight) takes no new place.
  const auto& recent = counter->recent;
  auto counted_already = [&](std::uint64_t hash) {
    return counted > 0 && std::find(recent.begin(), recent.end(), hash) != recent.end();
  };
  if (counted_already(attempt.user_password)) return false;
  std::uint64_t taken = counted;
  for (const auto& [hash, sessions] : counter->in_flight) {
    if (hash == attempt.user_password) return false;
    if (!counted_already(hash)) ++taken;
  }
  return taken >= threshold;
}

std::optional<LoginGuard::Refusal> LoginGuard::refusal_locked(const LoginAttempt& attempt,
                                                              const ProtectionConfig& config,
                                                              std::int64_t now_ms) {
  if (!config.enabled) return std::nullopt;
  resize(config);
  std::optional<LockKind> refused_by;
  bool spared = known_good(attempt, config, now_ms);
  // A lock in force first, then a counter full of guesses in flight; an
  // attack from elsewhere, with the same password, or from behind the same
  // NAT does not keep the owner out where they logged in before.
  if (locked(LockKind::UserAddress, key_of(LockKind::UserAddress, attempt), now_ms)) {
    refused_by = LockKind::UserAddress;
  } else if (!spared) {
    for (LockKind kind : kSparedKinds) {
      if (locked(kind, key_of(kind, attempt), now_ms)) {
        refused_by = kind;
        break;
      }
    }
  }
  if (!refused_by && full(LockKind::UserAddress, attempt, config, now_ms)) {
    refused_by = LockKind::UserAddress;
  }
  if (!refused_by && !spared) {
    for (LockKind kind : kSparedKinds) {
      if (full(kind, attempt, config, now_ms)) {
        refused_by = kind;
        break;
      }
    }
  }
  if (!refused_by) return std::nullopt;
  // As long as a failure counted now would wait, so that the answer's
  // timing does not tell a lockout from a wrong password.
  std::uint32_t from_here =
      std::max(failures(LockKind::Address, attempt), failures(LockKind::UserAddress, attempt)) + 1;
  return Refusal{*refused_by, tarpit_ms(from_here, config)};
}

std::optional<LoginGuard::Refusal> LoginGuard::refusal(const LoginAttempt& attempt,
                                                       const ProtectionConfig& config,
                                                       std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  return refusal_locked(attempt, config, now_ms);
}

std::optional<LoginGuard::Refusal> LoginGuard::admit(LoginAttempt& attempt,
                                                     const ProtectionConfig& config,
                                                     std::int64_t now_ms) {
  if (!config.enabled) return std::nullopt;
  std::lock_guard lock(mutex_);
  if (auto refused = refusal_locked(attempt, config, now_ms)) return refused;
  attempt.admitted = true;
  for (Table& each : tables_) {
    auto& in_flight = each.counters.get(key_of(each.kind, attempt)).in_flight;
    auto same = std::find_if(in_flight.begin(), in_flight.end(), [&](const auto& entry) {
      return entry.first == attempt.user_password;
    });
    if (same != in_flight.end()) {
      ++same->second;
    } else {
      in_flight.emplace_back(attempt.user_password, 1);
    }
  }
  ++in_flight_;
  return std::nullopt;
}

void LoginGuard::land(const LoginAttempt& attempt) {
  if (!attempt.admitted) return;
  --in_flight_;
  for (Table& each : tables_) {
    std::string key = key_of(each.kind, attempt);
    Counter* counter = each.counters.find(key);
    if (counter == nullptr) continue;
    auto& in_flight = counter->in_flight;
    auto same = std::find_if(in_flight.begin(), in_flight.end(), [&](const auto& entry) {
      return entry.first == attempt.user_password;
    });
    if (same == in_flight.end()) continue;
    if (--same->second == 0) in_flight.erase(same);
    // Made for this attempt only: nothing left to remember.
    if (counter->failures == 0 && counter->locked_until_ms == 0 && in_flight.empty()) {
      each.counters.erase(key);
    }
  }
}

void LoginGuard::release(const LoginAttempt& attempt) {
  std::lock_guard lock(mutex_);
  land(attempt);
}

LoginGuard::FailureOutcome LoginGuard::record_failure(const LoginAttempt& attempt,
                                                      const ProtectionConfig& config,
                                                      std::int64_t now_ms) {
  FailureOutcome outcome;
  std::lock_guard lock(mutex_);
  land(attempt);
  if (!config.enabled) return outcome;
  resize(config);
  const std::int64_t window_ms = std::int64_t{config.window_seconds} * kMsPerSecond;
  std::uint32_t guesses_from_here = 0;  // the tarpit follows the address's count
  for (Table& each : tables_) {
    std::string key = key_of(each.kind, attempt);
    Counter& counter = each.counters.get(key);
    if (counter.locked_until_ms > now_ms) continue;  // raced the lock: already refused
    bool lock_over = counter.locked_until_ms != 0;
    if (lock_over || counter.failures == 0 || now_ms - counter.window_start_ms > window_ms) {
      // A fixed window from the first failure: a steady trickle of typos
      // (a NAT full of users) starts over instead of adding up forever.
      start_over(counter);
      counter.window_start_ms = now_ms;
    }
    auto& recent = counter.recent;
    bool repeat = std::find(recent.begin(), recent.end(), attempt.user_password) != recent.end();
    if (!repeat) {
      recent[counter.next_recent] = attempt.user_password;
      counter.next_recent = (counter.next_recent + 1) % kRecentFailures;
      ++counter.failures;
    }
    if (each.kind == LockKind::Address || each.kind == LockKind::UserAddress) {
      guesses_from_here = std::max(guesses_from_here, counter.failures);
    }
    if (!repeat && counter.failures >= config.*each.threshold) {
      counter.locked_until_ms = now_ms + std::int64_t{config.lockout_seconds} * kMsPerSecond;
      // The list is bounded like the tables: past four tables' worth, the
      // oldest entry goes (its lock still holds; only its end is not logged).
      if (active_locks_.size() >= 4 * std::size_t{config.table_entries}) {
        active_locks_.pop_front();
      }
      active_locks_.push_back({each.kind, key, counter.locked_until_ms});
      outcome.started.push_back(
          {each.kind, subject_of(each.kind, key), counter.failures, counter.locked_until_ms});
    }
  }
  outcome.tarpit_ms = tarpit_ms(guesses_from_here, config);
  return outcome;
}

void LoginGuard::record_success(const LoginAttempt& attempt, const ProtectionConfig& config,
                                std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  land(attempt);
  if (!config.enabled) return;
  resize(config);
  std::string key = user_at(attempt.user, attempt.address);
  known_good_.get(key) = now_ms;
  // Typos before the right password are forgiven, unless the pair is
  // locked meanwhile (a login admitted just before the lock started).
  Counters& pairs = table(LockKind::UserAddress).counters;
  if (Counter* counter = pairs.find(key); counter && counter->locked_until_ms == 0) {
    start_over(*counter);
    if (counter->in_flight.empty()) pairs.erase(key);
  }
}

std::vector<Lockout> LoginGuard::expire(std::int64_t now_ms) {
  std::vector<Lockout> ended;
  std::lock_guard lock(mutex_);
  std::erase_if(active_locks_, [&](const ActiveLock& active) {
    if (active.until_ms > now_ms) return false;
    Lockout lockout{active.kind, subject_of(active.kind, active.key), 0, active.until_ms};
    Counters& counters = table(active.kind).counters;
    if (Counter* counter = counters.find(active.key);
        counter && counter->locked_until_ms == active.until_ms) {
      lockout.failures = counter->failures;
      start_over(*counter);
      if (counter->in_flight.empty()) counters.erase(active.key);
    }
    ended.push_back(std::move(lockout));
    return true;
  });
  return ended;
}

void LoginGuard::prune(const ProtectionConfig& config, std::int64_t now_ms) {
  // A few hundred a second clears a full table in a minute or two, and
  // holds the lock for microseconds.
  constexpr std::size_t kPerCall = 256;
  const std::int64_t window_ms = std::int64_t{config.window_seconds} * kMsPerSecond;
  const std::int64_t known_good_ms = std::int64_t{config.known_good_seconds} * kMsPerSecond;
  std::lock_guard lock(mutex_);
  for (Table& each : tables_) {
    each.counters.erase_stale(
        [&](const Counter& counter) {
          // A lock that ended counts as none, whether or not expire() saw it.
          return counter.locked_until_ms <= now_ms && counter.in_flight.empty() &&
                 now_ms - counter.window_start_ms > window_ms;
        },
        kPerCall);
  }
  known_good_.erase_stale(
      [&](std::int64_t last_success) { return now_ms - last_success >= known_good_ms; }, kPerCall);
}

LoginGuard::Sizes LoginGuard::sizes() const {
  std::lock_guard lock(mutex_);
  Sizes sizes;
  sizes.address = tables_[static_cast<std::size_t>(LockKind::Address)].counters.size();
  sizes.user = tables_[static_cast<std::size_t>(LockKind::User)].counters.size();
  sizes.user_address = tables_[static_cast<std::size_t>(LockKind::UserAddress)].counters.size();
  sizes.password = tables_[static_cast<std::size_t>(LockKind::Password)].counters.size();
  sizes.known_good = known_good_.size();
  sizes.locked = active_locks_.size();
  sizes.in_flight = in_flight_;
  return sizes;
}

}  // namespace podgate::proxy
