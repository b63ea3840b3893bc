#include "proxy/protection/login_guard.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace podgate::proxy {

namespace {

constexpr std::int64_t kMsPerSecond = 1000;

std::string lower_case(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return lower;
}

std::string hex(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// The user-and-address key: a NUL cannot occur in an address key.
std::string user_at(const std::string& user, const std::string& address) {
  return user + '\0' + address;
}

}  // namespace

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
      tables_{{{LockKind::Address, &ProtectionConfig::address_failures, BoundedTable<Counter>(1)},
               {LockKind::User, &ProtectionConfig::user_failures, BoundedTable<Counter>(1)},
               {LockKind::UserAddress, &ProtectionConfig::user_address_failures,
                BoundedTable<Counter>(1)},
               {LockKind::Password, &ProtectionConfig::password_spray_users,
                BoundedTable<Counter>(1)}}},
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
  attempt.user = lower_case(user);
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
  switch (kind) {
    case LockKind::UserAddress: {
      std::size_t nul = key.find('\0');
      return key.substr(0, nul) + " from " + key.substr(nul + 1);
    }
    case LockKind::Password:
      return "password #" + key;
    default:
      return key;
  }
}

void LoginGuard::resize(const ProtectionConfig& config) {
  for (Table& each : tables_) {
    if (each.counters.capacity() != config.table_entries) {
      each.counters.set_capacity(config.table_entries);
    }
  }
  if (known_good_.capacity() != config.table_entries) {
    known_good_.set_capacity(config.table_entries);
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

std::optional<LockKind> LoginGuard::refusal(const LoginAttempt& attempt,
                                            const ProtectionConfig& config, std::int64_t now_ms) {
  if (!config.enabled) return std::nullopt;
  std::lock_guard lock(mutex_);
  resize(config);
  for (LockKind kind : {LockKind::Address, LockKind::UserAddress}) {
    if (locked(kind, key_of(kind, attempt), now_ms)) return kind;
  }
  // An attack on the user or with the password from elsewhere does not
  // keep the owner out where they logged in before.
  bool locked_for_user = locked(LockKind::User, key_of(LockKind::User, attempt), now_ms);
  bool locked_password = locked(LockKind::Password, key_of(LockKind::Password, attempt), now_ms);
  if ((locked_for_user || locked_password) && !known_good(attempt, config, now_ms)) {
    return locked_for_user ? LockKind::User : LockKind::Password;
  }
  return std::nullopt;
}

LoginGuard::FailureOutcome LoginGuard::record_failure(const LoginAttempt& attempt,
                                                      const ProtectionConfig& config,
                                                      std::int64_t now_ms) {
  FailureOutcome outcome;
  if (!config.enabled) return outcome;
  std::lock_guard lock(mutex_);
  resize(config);
  const std::int64_t window_ms = std::int64_t{config.window_seconds} * kMsPerSecond;
  std::uint32_t guesses_from_here = 0;  // the tarpit follows the address's count
  for (Table& each : tables_) {
    std::string key = key_of(each.kind, attempt);
    Counter& counter = each.counters.get(key);
    if (counter.locked_until_ms > now_ms) continue;  // raced the lock: already refused
    bool lock_over = counter.locked_until_ms != 0;
    if (lock_over || now_ms - counter.last_failure_ms > window_ms) counter = Counter{};
    auto& recent = counter.recent;
    bool repeat = std::find(recent.begin(), recent.end(), attempt.user_password) != recent.end();
    if (!repeat) {
      recent[counter.next_recent] = attempt.user_password;
      counter.next_recent = (counter.next_recent + 1) % kRecentFailures;
      ++counter.failures;
      counter.last_failure_ms = now_ms;
    }
    if (each.kind == LockKind::Address || each.kind == LockKind::UserAddress) {
      guesses_from_here = std::max(guesses_from_here, counter.failures);
    }
    if (!repeat && counter.failures >= config.*each.threshold) {
      counter.locked_until_ms = now_ms + std::int64_t{config.lockout_seconds} * kMsPerSecond;
      active_locks_.push_back({each.kind, key, counter.locked_until_ms});
      outcome.started.push_back(
          {each.kind, subject_of(each.kind, key), counter.failures, counter.locked_until_ms});
    }
  }
  if (guesses_from_here >= config.tarpit_after_failures) {
    std::uint64_t steps = guesses_from_here - config.tarpit_after_failures + 1;
    outcome.tarpit_ms = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(config.tarpit_max_ms, steps * config.tarpit_step_ms));
  }
  return outcome;
}

void LoginGuard::record_success(const LoginAttempt& attempt, const ProtectionConfig& config,
                                std::int64_t now_ms) {
  if (!config.enabled) return;
  std::lock_guard lock(mutex_);
  resize(config);
  std::string key = user_at(attempt.user, attempt.address);
  known_good_.get(key) = now_ms;
  // Typos before the right password are forgiven, unless already locked
  // (a success cannot happen then: locked logins never reach the pod).
  if (Counter* counter = table(LockKind::UserAddress).counters.find(key);
      counter && counter->locked_until_ms == 0) {
    table(LockKind::UserAddress).counters.erase(key);
  }
}

std::vector<Lockout> LoginGuard::expire(std::int64_t now_ms) {
  std::vector<Lockout> ended;
  std::lock_guard lock(mutex_);
  std::erase_if(active_locks_, [&](const ActiveLock& active) {
    if (active.until_ms > now_ms) return false;
    Lockout lockout{active.kind, subject_of(active.kind, active.key), 0, active.until_ms};
    BoundedTable<Counter>& counters = table(active.kind).counters;
    if (Counter* counter = counters.find(active.key);
        counter && counter->locked_until_ms == active.until_ms) {
      lockout.failures = counter->failures;
      counters.erase(active.key);  // starts over
    }
    ended.push_back(std::move(lockout));
    return true;
  });
  return ended;
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
  return sizes;
}

}  // namespace podgate::proxy
