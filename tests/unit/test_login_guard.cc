#include <catch2/catch.hpp>
#include <optional>
#include <string>

#include "proxy/protection/bounded_table.h"
#include "proxy/protection/login_guard.h"

using podgate::proxy::BoundedTable;
using podgate::proxy::LockKind;
using podgate::proxy::LoginAttempt;
using podgate::proxy::LoginGuard;
using podgate::proxy::ProtectionConfig;

namespace {

constexpr std::int64_t kSecond = 1000;

LoginGuard::Key test_key() {
  LoginGuard::Key key{};
  key[0] = 7;
  return key;
}

ProtectionConfig small_config() {
  ProtectionConfig config;
  config.window_seconds = 60;
  config.tarpit_after_failures = 2;
  config.tarpit_step_ms = 100;
  config.tarpit_max_ms = 250;
  config.address_failures = 6;
  config.user_failures = 4;
  config.user_address_failures = 3;
  config.password_spray_users = 5;
  config.lockout_seconds = 30;
  config.known_good_seconds = 3600;
  config.table_entries = 100;
  return config;
}

// The kind of lock that refuses the attempt, if any.
std::optional<LockKind> refused_by(LoginGuard& guard, const LoginAttempt& attempt,
                                   const ProtectionConfig& config, std::int64_t now) {
  auto refusal = guard.refusal(attempt, config, now);
  if (!refusal) return std::nullopt;
  return refusal->kind;
}

std::string numbered(const char* prefix, int n) {
  return prefix + std::to_string(n);
}

}  // namespace

TEST_CASE("bounded table evicts the least recently used entry", "[protection]") {
  BoundedTable<int> table(3);
  table.get("a") = 1;
  table.get("b") = 2;
  table.get("c") = 3;
  REQUIRE(table.find("a") != nullptr);  // a is now the most recent
  table.get("d") = 4;                   // b goes
  CHECK(table.size() == 3);
  CHECK(table.find("b") == nullptr);
  CHECK(*table.find("a") == 1);
  CHECK(*table.find("d") == 4);
  table.set_capacity(1);
  CHECK(table.size() == 1);
  CHECK(table.find("d") != nullptr);
  table.erase("d");
  CHECK(table.size() == 0);
}

TEST_CASE("guessing one user from one address locks that pair only", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  std::int64_t now = 1000 * kSecond;
  for (int i = 0; i < 2; ++i) {
    LoginAttempt guess = guard.attempt("Alice@Example.com", numbered("guess", i), "192.0.2.1");
    REQUIRE_FALSE(refused_by(guard, guess, config, now));
    CHECK(guard.record_failure(guess, config, now).started.empty());
  }
  LoginAttempt third = guard.attempt("alice@example.com", "guess2", "192.0.2.1");
  REQUIRE_FALSE(refused_by(guard, third, config, now));
  auto outcome = guard.record_failure(third, config, now);
  REQUIRE(outcome.started.size() == 1);
  CHECK(outcome.started[0].kind == LockKind::UserAddress);
  CHECK(outcome.started[0].subject == "alice@example.com from 192.0.2.1");
  CHECK(outcome.started[0].failures == 3);

  // Even the right password from there is refused now ...
  CHECK(refused_by(guard, guard.attempt("alice@example.com", "right", "192.0.2.1"), config, now) ==
        LockKind::UserAddress);
  // ... but not from elsewhere, and not for other users from there.
  CHECK_FALSE(
      refused_by(guard, guard.attempt("alice@example.com", "right", "192.0.2.9"), config, now));
  CHECK_FALSE(refused_by(guard, guard.attempt("bob@example.com", "x", "192.0.2.1"), config, now));

  // The lockout ends after lockout_seconds, and the count starts over.
  CHECK(guard.expire(now + 29 * kSecond).empty());
  auto ended = guard.expire(now + 30 * kSecond);
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].kind == LockKind::UserAddress);
  CHECK_FALSE(refused_by(guard, third, config, now + 30 * kSecond));
  CHECK(guard.sizes().locked == 0);
}

TEST_CASE("a repeated wrong password counts once", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  LoginAttempt stale = guard.attempt("alice@example.com", "old-password", "192.0.2.1");
  for (int i = 0; i < 50; ++i) {
    CHECK(guard.record_failure(stale, config, i * kSecond).started.empty());
    CHECK_FALSE(refused_by(guard, stale, config, i * kSecond));
  }
  // A different guess still counts.
  guard.record_failure(guard.attempt("alice@example.com", "b", "192.0.2.1"), config, 50 * kSecond);
  auto outcome = guard.record_failure(guard.attempt("alice@example.com", "c", "192.0.2.1"), config,
                                      50 * kSecond);
  CHECK(outcome.started.size() == 1);
}

TEST_CASE("the tarpit grows with the failures from one address, up to its cap", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  config.user_address_failures = 100;
  config.address_failures = 100;
  config.user_failures = 100;
  std::vector<std::uint32_t> waits;
  for (int i = 0; i < 5; ++i) {
    waits.push_back(
        guard
            .record_failure(guard.attempt("alice@example.com", numbered("p", i), "192.0.2.1"),
                            config, kSecond)
            .tarpit_ms);
  }
  CHECK(waits == std::vector<std::uint32_t>{0, 100, 200, 250, 250});
}

TEST_CASE("one address trying many users is locked as an address", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  config.password_spray_users = 1000;
  int refused_at = -1;
  for (int i = 0; i < 100; ++i) {
    LoginAttempt attempt = guard.attempt(numbered("user", i), "Summer2026!", "198.51.100.7");
    if (auto lock = refused_by(guard, attempt, config, kSecond)) {
      CHECK(*lock == LockKind::Address);
      refused_at = i;
      break;
    }
    guard.record_failure(attempt, config, kSecond);
  }
  CHECK(refused_at == 6);
  // IPv6 addresses are counted per /64 by the caller: the key is what counts.
  CHECK_FALSE(refused_by(guard, guard.attempt("user0", "x", "198.51.100.8"), config, kSecond));
}

TEST_CASE("one password against many users from many addresses is locked", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  LoginAttempt owner_login = guard.attempt("user9", "Summer2026!", "203.0.113.99");
  guard.record_success(owner_login, config, 0);
  for (int i = 0; i < 5; ++i) {
    guard.record_failure(
        guard.attempt(numbered("user", i), "Summer2026!", numbered("198.51.100.", i)), config,
        kSecond);
  }
  CHECK(refused_by(guard, guard.attempt("user7", "Summer2026!", "192.0.2.50"), config, kSecond) ==
        LockKind::Password);
  CHECK_FALSE(refused_by(guard, guard.attempt("user7", "other", "192.0.2.50"), config, kSecond));
  // Where the owner logged in before, the same password still gets through.
  CHECK_FALSE(refused_by(guard, owner_login, config, kSecond));
}

TEST_CASE("a user attacked from many addresses is locked except where it logged in before",
          "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  config.lockout_seconds = 7200;
  LoginAttempt owner = guard.attempt("alice@example.com", "right", "203.0.113.5");
  guard.record_success(owner, config, 0);
  for (int i = 0; i < 4; ++i) {
    guard.record_failure(
        guard.attempt("alice@example.com", numbered("guess", i), numbered("198.51.100.", i)),
        config, kSecond);
  }
  CHECK(refused_by(guard, guard.attempt("alice@example.com", "right", "192.0.2.77"), config,
                   kSecond) == LockKind::User);
  CHECK_FALSE(refused_by(guard, owner, config, kSecond));
  // Known good only for as long as configured.
  CHECK(refused_by(guard, owner, config, 3600 * kSecond) == LockKind::User);
}

TEST_CASE("quiet counters start over after the window", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  for (int round = 0; round < 10; ++round) {
    std::int64_t now = round * 61 * kSecond;  // a minute and a bit apart
    for (int i = 0; i < 2; ++i) {
      auto outcome = guard.record_failure(
          guard.attempt("alice@example.com", numbered("r", round * 10 + i), "192.0.2.1"), config,
          now);
      CHECK(outcome.started.empty());
    }
  }
}

TEST_CASE("a success forgives the typos before it", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  for (int i = 0; i < 2; ++i) {
    guard.record_failure(guard.attempt("alice", numbered("typo", i), "192.0.2.1"), config, 0);
  }
  guard.record_success(guard.attempt("alice", "right", "192.0.2.1"), config, 0);
  auto outcome = guard.record_failure(guard.attempt("alice", "typo9", "192.0.2.1"), config, 0);
  CHECK(outcome.started.empty());
}

TEST_CASE("the tables stay within their bound", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  config.table_entries = 100;
  for (int i = 0; i < 5000; ++i) {
    guard.record_failure(guard.attempt(numbered("u", i), numbered("p", i), numbered("a", i)),
                         config, kSecond);
  }
  LoginGuard::Sizes sizes = guard.sizes();
  CHECK(sizes.address == 100);
  CHECK(sizes.user == 100);
  CHECK(sizes.user_address == 100);
  CHECK(sizes.password == 100);
}

TEST_CASE("a disabled guard neither counts nor refuses", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  config.enabled = false;
  LoginAttempt attempt = guard.attempt("alice", "x", "192.0.2.1");
  for (int i = 0; i < 20; ++i) {
    guard.record_failure(guard.attempt("alice", numbered("x", i), "192.0.2.1"), config, 0);
  }
  CHECK_FALSE(refused_by(guard, attempt, config, 0));
  CHECK(guard.sizes().user == 0);
}

TEST_CASE("the guard keeps hashes, not passwords", "[protection]") {
  LoginGuard guard(test_key());
  LoginGuard other_key;  // random key
  LoginAttempt a = guard.attempt("alice", "secret", "192.0.2.1");
  CHECK(a.user_password != guard.attempt("bob", "secret", "192.0.2.1").user_password);
  CHECK(a.password == guard.attempt("bob", "secret", "192.0.2.1").password);
  CHECK(a.password != other_key.attempt("alice", "secret", "192.0.2.1").password);
  // ("ab","c") and ("a","bc") are different pairs.
  CHECK(guard.attempt("ab", "c", "x").user_password != guard.attempt("a", "bc", "x").user_password);
}

TEST_CASE("a refusal waits as long as a failure from there would", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  std::uint32_t last_failure_wait = 0;
  for (int i = 0; i < 3; ++i) {
    last_failure_wait =
        guard.record_failure(guard.attempt("alice", numbered("g", i), "192.0.2.1"), config, 0)
            .tarpit_ms;
  }
  CHECK(last_failure_wait == 200);
  auto refusal = guard.refusal(guard.attempt("alice", "g9", "192.0.2.1"), config, 0);
  REQUIRE(refusal);
  CHECK(refusal->kind == LockKind::UserAddress);
  CHECK(refusal->tarpit_ms == 250);  // the next step, capped, as a fourth failure would get
  // A lock on the user, refused at a fresh address: no tarpit there, as for
  // a first wrong password.
  config.user_failures = 3;
  for (int i = 0; i < 3; ++i) {
    guard.record_failure(guard.attempt("bob", numbered("b", i), numbered("198.51.100.", i)), config,
                         0);
  }
  auto fresh = guard.refusal(guard.attempt("bob", "b9", "203.0.113.1"), config, 0);
  REQUIRE(fresh);
  CHECK(fresh->kind == LockKind::User);
  CHECK(fresh->tarpit_ms == 0);
}

TEST_CASE("an address lock spares users who logged in from there before", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  LoginAttempt colleague = guard.attempt("carol", "right", "192.0.2.1");
  guard.record_success(colleague, config, 0);
  for (int i = 0; i < 6; ++i) {  // typos of many people behind one NAT
    guard.record_failure(guard.attempt(numbered("user", i), "typo", "192.0.2.1"), config, 0);
  }
  CHECK(refused_by(guard, guard.attempt("dave", "x", "192.0.2.1"), config, 0) == LockKind::Address);
  CHECK_FALSE(refused_by(guard, colleague, config, 0));
}

TEST_CASE("flooding the tables does not lift a lockout", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  config.table_entries = 100;
  for (int i = 0; i < 4; ++i) {
    guard.record_failure(guard.attempt("alice", numbered("g", i), numbered("198.51.100.", i)),
                         config, 0);
  }
  LoginAttempt stranger = guard.attempt("alice", "right", "203.0.113.9");
  REQUIRE(refused_by(guard, stranger, config, 0) == LockKind::User);
  for (int i = 0; i < 1000; ++i) {  // made-up users from made-up places
    guard.record_failure(guard.attempt(numbered("made-up", i), "x", numbered("a", i)), config, 0);
  }
  CHECK(refused_by(guard, stranger, config, 0) == LockKind::User);
  CHECK(guard.sizes().user == 100);
}

TEST_CASE("lockout subjects hold no line breaks", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  LoginGuard::FailureOutcome outcome;
  for (int i = 0; i < 3; ++i) {
    outcome = guard.record_failure(
        guard.attempt("eve\r\nlockout end: user alice", numbered("g", i), "192.0.2.1"), config, 0);
  }
  REQUIRE(outcome.started.size() == 1);
  CHECK(outcome.started[0].subject == "eve??lockout end: user alice from 192.0.2.1");
}

TEST_CASE("guesses in flight take the places under a threshold", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();  // user_address_failures = 3
  std::vector<LoginAttempt> admitted;
  int refused = 0;
  // Twenty connections at once, each with its own guess, none judged yet.
  for (int i = 0; i < 20; ++i) {
    LoginAttempt guess = guard.attempt("alice", numbered("parallel", i), "192.0.2.1");
    if (auto refusal = guard.admit(guess, config, 0)) {
      CHECK(refusal->kind == LockKind::UserAddress);
      ++refused;
    } else {
      admitted.push_back(guess);
    }
  }
  CHECK(admitted.size() == 3);
  CHECK(refused == 17);
  CHECK(guard.sizes().in_flight == 3);
  // Their verdicts arrive: the three failures lock the pair.
  std::size_t locks = 0;
  for (const LoginAttempt& guess : admitted) {
    locks += guard.record_failure(guess, config, kSecond).started.size();
  }
  CHECK(locks == 1);
  CHECK(guard.sizes().in_flight == 0);
  CHECK(refused_by(guard, guard.attempt("alice", "late", "192.0.2.1"), config, kSecond) ==
        LockKind::UserAddress);
}

TEST_CASE("one password in flight on many connections holds one place", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  LoginAttempt right = guard.attempt("alice", "right", "192.0.2.1");
  // A mail client opening ten connections at once with the same password.
  for (int i = 0; i < 10; ++i) CHECK_FALSE(guard.admit(right, config, 0));
  CHECK(guard.sizes().in_flight == 10);
  // Places remain for other guesses: the ten hold one.
  LoginAttempt other = guard.attempt("alice", "other", "192.0.2.1");
  CHECK_FALSE(guard.admit(other, config, 0));
  guard.release(other);
  for (int i = 0; i < 10; ++i) guard.record_success(right, config, kSecond);
  CHECK(guard.sizes().in_flight == 0);
  CHECK(guard.sizes().user_address == 0);  // nothing left to remember
}

TEST_CASE("a guess released without a verdict frees its place and leaves no count",
          "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  std::vector<LoginAttempt> guesses;
  for (int i = 0; i < 3; ++i) {
    guesses.push_back(guard.attempt("alice", numbered("g", i), "192.0.2.1"));
    REQUIRE_FALSE(guard.admit(guesses.back(), config, 0));
  }
  LoginAttempt fourth = guard.attempt("alice", "g3", "192.0.2.1");
  CHECK(guard.admit(fourth, config, 0));
  guard.release(guesses[0]);  // the pod was down: no verdict
  CHECK_FALSE(guard.admit(fourth, config, 0));
  for (std::size_t i = 1; i < guesses.size(); ++i) guard.release(guesses[i]);
  guard.release(fourth);
  CHECK(guard.sizes().in_flight == 0);
  CHECK(guard.sizes().user_address == 0);
  CHECK(guard.sizes().address == 0);
}

TEST_CASE("a counted failure and the same guess in flight take one place", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  LoginAttempt stale = guard.attempt("alice", "old-password", "192.0.2.1");
  guard.record_failure(stale, config, 0);
  guard.record_failure(guard.attempt("alice", "typo", "192.0.2.1"), config, 0);
  // Two of three places counted; the old password again takes none.
  for (int i = 0; i < 5; ++i) CHECK_FALSE(guard.admit(stale, config, 0));
  LoginAttempt fresh = guard.attempt("alice", "new", "192.0.2.1");
  LoginAttempt fresher = guard.attempt("alice", "newer", "192.0.2.1");
  CHECK_FALSE(guard.admit(fresh, config, 0));
  CHECK(guard.admit(fresher, config, 0));
  CHECK_FALSE(fresher.admitted);
}

TEST_CASE("places in flight spare a known-good address, except for its own guessing",
          "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();  // user_failures = 4
  LoginAttempt owner = guard.attempt("alice", "right", "203.0.113.5");
  guard.record_success(owner, config, 0);
  for (int i = 0; i < 4; ++i) {  // a botnet's guesses, all in flight
    LoginAttempt guess = guard.attempt("alice", numbered("bot", i), numbered("198.51.100.", i));
    REQUIRE_FALSE(guard.admit(guess, config, 0));
  }
  CHECK(refused_by(guard, guard.attempt("alice", "right", "192.0.2.77"), config, 0) ==
        LockKind::User);
  CHECK_FALSE(refused_by(guard, owner, config, 0));
}

TEST_CASE("the count in flight stays exact when a flood evicts a guess in flight", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  config.table_entries = 10;
  config.user_address_failures = 1000;
  config.address_failures = 1000;
  config.user_failures = 1000;
  config.password_spray_users = 1000;
  std::vector<LoginAttempt> guesses;
  for (int i = 0; i < 40; ++i) {  // more pinned entries than eviction passes over
    guesses.push_back(guard.attempt(numbered("u", i), numbered("p", i), numbered("a", i)));
    REQUIRE_FALSE(guard.admit(guesses.back(), config, 0));
  }
  CHECK(guard.sizes().in_flight == 40);
  CHECK(guard.sizes().user == 10);  // the bound on memory comes first
  for (const LoginAttempt& guess : guesses) guard.release(guess);
  CHECK(guard.sizes().in_flight == 0);
}

TEST_CASE("pruning passes over locks and guesses in flight, and takes ended locks",
          "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();  // window 60 s, lockout 30 s, user_address 3
  for (int i = 0; i < 3; ++i) {              // the oldest entry: a lock
    guard.record_failure(guard.attempt("bob", numbered("g", i), "192.0.2.2"), config, 0);
  }
  for (int i = 0; i < 20; ++i) {
    guard.record_failure(guard.attempt(numbered("user", i), "x", numbered("198.51.100.", i)),
                         config, 0);
  }
  guard.prune(config, 61 * kSecond);  // the lock ended at 30 s, unseen by expire()
  CHECK(guard.sizes().user_address == 0);
  CHECK(guard.sizes().user == 0);
}

TEST_CASE("flooding the tables does not drop a guess in flight", "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();
  config.table_entries = 50;
  std::vector<LoginAttempt> guesses;
  for (int i = 0; i < 3; ++i) {
    guesses.push_back(guard.attempt("alice", numbered("g", i), "192.0.2.1"));
    REQUIRE_FALSE(guard.admit(guesses.back(), config, 0));
  }
  for (int i = 0; i < 500; ++i) {
    guard.record_failure(guard.attempt(numbered("made-up", i), "x", numbered("a", i)), config, 0);
  }
  CHECK(refused_by(guard, guard.attempt("alice", "g9", "192.0.2.1"), config, 0) ==
        LockKind::UserAddress);
}

TEST_CASE("counters without a failure for a window are forgotten, locks and guesses in flight stay",
          "[protection]") {
  LoginGuard guard(test_key());
  ProtectionConfig config = small_config();  // window 60 s, lockout 30 s
  for (int i = 0; i < 40; ++i) {
    guard.record_failure(guard.attempt(numbered("user", i), "x", numbered("198.51.100.", i)),
                         config, 0);
  }
  LoginAttempt in_flight = guard.attempt("alice", "pending", "192.0.2.1");
  REQUIRE_FALSE(guard.admit(in_flight, config, 0));
  guard.record_success(guard.attempt("carol", "right", "192.0.2.9"), config, 0);
  CHECK(guard.sizes().user == 41);
  guard.prune(config, 30 * kSecond);  // within the window: nothing goes
  CHECK(guard.sizes().user == 41);
  guard.prune(config, 61 * kSecond);
  CHECK(guard.sizes().user == 1);  // alice's guess, still in flight
  CHECK(guard.sizes().known_good == 1);
  guard.prune(config, 3601 * kSecond);
  CHECK(guard.sizes().known_good == 0);
  // A lock in force is not forgotten.
  for (int i = 0; i < 3; ++i) {
    guard.record_failure(guard.attempt("bob", numbered("g", i), "192.0.2.2"), config,
                         4000 * kSecond);
  }
  guard.prune(config, 4000 * kSecond + 59 * kSecond);
  CHECK(refused_by(guard, guard.attempt("bob", "right", "192.0.2.2"), config,
                   4000 * kSecond + 20 * kSecond) == LockKind::UserAddress);
}
