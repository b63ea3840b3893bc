// The brute-force and password-spray tracker: counts failed logins and
// decides, before a login reaches the directory or a pod, whether to refuse
// it. Four counters per failure:
//   address       one client address (IPv6: its /64), any users: a spray
//                 from one place, or a scan of user names;
//   user          one user from anywhere: a botnet on one mailbox;
//   user_address  one user from one address: plain guessing;
//   password      one wrong password tried against many users: a spray
//                 from many places with a common password.
// A failure is counted once per (user, password): a phone retrying an old
// password every minute is one failure, not sixty. Passwords are never
// stored: only a keyed hash (HMAC-SHA256 under a key made at start, so the
// hashes are useless outside this process).
//
// Guesses still in flight count too: an attempt admitted and not yet judged
// (the pod is checking it) holds a place under every counter's threshold,
// so many connections at once, or clients that close before the verdict,
// get no more guesses at the pod than the threshold. The same (user,
// password) in flight on several connections holds one place: a client
// that opens five connections with the right password is no attacker.
//
// Past a counter's threshold, logins are refused for the lockout window;
// address, user and password lockouts spare an address the user logged in
// from recently (known good). A refusal waits as long as a failure would,
// so its timing does not give the lockout away. Counters start over
// `window_seconds` after their first failure and when their lockout ends.
// Every table is bounded (least recently used entries go, lockouts in force
// last), and so is the list of lockouts, so memory stays fixed whatever an
// attacker makes up.
//
// Pure logic with the time passed in, and thread-safe: all workers share one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/config.h"
#include "proxy/protection/bounded_table.h"

namespace podgate::proxy {

enum class LockKind { Address, User, UserAddress, Password };
const char* to_string(LockKind kind);

// One login's identity as the guard counts it; holds no password.
struct LoginAttempt {
  std::string user;                 // lower-cased
  std::string address;              // address_key() of the client
  std::uint64_t user_password = 0;  // keyed hash of user and password
  std::uint64_t password = 0;       // keyed hash of the password alone
  // admit() let it through: it is in flight until its verdict.
  bool admitted = false;
};

struct Lockout {
  LockKind kind = LockKind::Address;
  // Who is locked, fit for a log line: an address, a user, "user from
  // address", or a password's hash (never the password).
  std::string subject;
  std::uint32_t failures = 0;
  std::int64_t until_ms = 0;
};

class LoginGuard {
 public:
  using Key = std::array<std::uint8_t, 32>;

  // A random hashing key.
  LoginGuard();
  explicit LoginGuard(const Key& key);

  LoginAttempt attempt(std::string_view user, std::string_view password, std::string address) const;

  struct Refusal {
    LockKind kind = LockKind::Address;
    // The wait a failure from here would get now.
    std::uint32_t tarpit_ms = 0;
  };
  // The lock (or the counter whose places are all taken by guesses in
  // flight) that refuses this attempt now, if any.
  std::optional<Refusal> refusal(const LoginAttempt& attempt, const ProtectionConfig& config,
                                 std::int64_t now_ms);
  // refusal(), and when there is none the attempt is in flight from now on
  // (it is marked admitted): exactly one of record_failure(),
  // record_success() or release() ends it.
  std::optional<Refusal> admit(LoginAttempt& attempt, const ProtectionConfig& config,
                               std::int64_t now_ms);
  // An admitted attempt ended without a verdict on its credentials (the pod
  // was down, the session was shut down).
  void release(const LoginAttempt& attempt);

  struct FailureOutcome {
    // Extra wait before the failure answer (the tarpit).
    std::uint32_t tarpit_ms = 0;
    std::vector<Lockout> started;
  };
  // The directory or the pod said no to these credentials.
  FailureOutcome record_failure(const LoginAttempt& attempt, const ProtectionConfig& config,
                                std::int64_t now_ms);
  // The pod accepted them: this address is known good for the user, and its
  // guesses for the user are forgiven.
  void record_success(const LoginAttempt& attempt, const ProtectionConfig& config,
                      std::int64_t now_ms);

  // Lockouts whose window has passed; their counters start over. Call it
  // every second or so, to log the ends.
  std::vector<Lockout> expire(std::int64_t now_ms);
  // Forgets, a few at a time, counters without a failure for a window (not
  // locked, nothing in flight) and known-good addresses past their time: the
  // tables hold what an attack left only while it counts. Call it as often
  // as expire().
  void prune(const ProtectionConfig& config, std::int64_t now_ms);

  struct Sizes {
    std::size_t address = 0, user = 0, user_address = 0, password = 0, known_good = 0;
    std::size_t locked = 0;
    std::size_t in_flight = 0;  // admitted attempts not yet judged
  };
  Sizes sizes() const;

 private:
  // Remembered hashes of the last few distinct wrong (user, password)
  // pairs: a repeat of one of them is not counted again.
  static constexpr std::size_t kRecentFailures = 8;

  struct Counter {
    std::uint32_t failures = 0;
    std::int64_t window_start_ms = 0;  // the first failure counted
    std::int64_t locked_until_ms = 0;  // 0: not locked
    std::array<std::uint64_t, kRecentFailures> recent{};
    std::size_t next_recent = 0;
    // Admitted guesses not judged yet: their (user, password) hash, and on
    // how many connections it is in flight.
    std::vector<std::pair<std::uint64_t, std::uint32_t>> in_flight;
  };
  // Entries that must outlive a flood of others: lockouts in force, and
  // guesses in flight (their verdict is still to be counted).
  struct Pinned {
    bool operator()(const Counter& counter) const {
      return counter.locked_until_ms != 0 || !counter.in_flight.empty();
    }
  };
  using Counters = BoundedTable<Counter, Pinned>;
  struct Table {
    LockKind kind;
    std::uint32_t ProtectionConfig::*threshold;
    Counters counters;
  };
  struct ActiveLock {
    LockKind kind;
    std::string key;
    std::int64_t until_ms;
  };

  Table& table(LockKind kind) { return tables_[static_cast<std::size_t>(kind)]; }
  static std::string key_of(LockKind kind, const LoginAttempt& attempt);
  static std::string subject_of(LockKind kind, const std::string& key);
  std::optional<Refusal> refusal_locked(const LoginAttempt& attempt, const ProtectionConfig& config,
                                        std::int64_t now_ms);
  bool locked(LockKind kind, const std::string& key, std::int64_t now_ms);
  // Every place under the counter's threshold is taken (failures counted in
  // the window plus other guesses in flight), and this attempt would take
  // another.
  bool full(LockKind kind, const LoginAttempt& attempt, const ProtectionConfig& config,
            std::int64_t now_ms);
  // Ends an admitted attempt's place in flight under every counter (if a
  // flood evicted one meanwhile, that place is gone already); counters left
  // with nothing to remember are dropped.
  void land(const LoginAttempt& attempt);
  static void start_over(Counter& counter);
  bool known_good(const LoginAttempt& attempt, const ProtectionConfig& config, std::int64_t now_ms);
  std::uint32_t failures(LockKind kind, const LoginAttempt& attempt);
  static std::uint32_t tarpit_ms(std::uint32_t failures_from_here, const ProtectionConfig& config);
  void resize(const ProtectionConfig& config);
  std::uint64_t keyed_hash(std::string_view a, std::string_view b) const;

  Key key_;
  mutable std::mutex mutex_;
  std::array<Table, 4> tables_;
  BoundedTable<std::int64_t> known_good_;  // "user\0address" -> last success
  std::deque<ActiveLock> active_locks_;    // in the order they started
  std::size_t in_flight_ = 0;
};

}  // namespace podgate::proxy
