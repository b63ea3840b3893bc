// The connection limits shared by the workers: per client address
// (AddressConnectionLimiter) and for the whole process (ConnectionBudget).
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "core/metrics.h"
#include "proxy/protection/address_connection_limiter.h"
#include "proxy/protection/connection_budget.h"

using podgate::proxy::AddressConnectionLimiter;
using podgate::proxy::ConnectionBudget;

TEST_CASE("An address gets at most its maximum of connections", "[limits]") {
  AddressConnectionLimiter limiter(2);
  auto first = limiter.admit("192.0.2.7");
  auto second = limiter.admit("192.0.2.7");
  REQUIRE(first.admitted);
  REQUIRE(second.admitted);
  CHECK(limiter.count("192.0.2.7") == 2);

  auto third = limiter.admit("192.0.2.7");
  CHECK_FALSE(third.admitted);
  CHECK(third.first_refusal);
  CHECK_FALSE(limiter.admit("192.0.2.7").first_refusal);  // reported once
  CHECK(limiter.count("192.0.2.7") == 2);

  // Other addresses have their own count.
  auto other = limiter.admit("192.0.2.8");
  CHECK(other.admitted);

  // A closed connection makes room, and a new refusal is worth a report.
  first.slot.reset();
  CHECK(limiter.count("192.0.2.7") == 1);
  auto again = limiter.admit("192.0.2.7");
  CHECK(again.admitted);
  CHECK(limiter.admit("192.0.2.7").first_refusal);
}

TEST_CASE("An address's entry goes when its last connection does", "[limits]") {
  AddressConnectionLimiter limiter(5);
  {
    auto a = limiter.admit("2001:db8::/64");
    auto b = limiter.admit("2001:db8::/64");
    auto moved = std::move(a.slot);  // a moved slot gives its place back once
    CHECK(limiter.addresses() == 1);
  }
  CHECK(limiter.addresses() == 0);
  CHECK(limiter.count("2001:db8::/64") == 0);
}

TEST_CASE("No per-address limit at 0, and none for an unknown address", "[limits]") {
  AddressConnectionLimiter unlimited(0);
  std::vector<AddressConnectionLimiter::Admission> held;
  for (int i = 0; i < 1000; ++i) held.push_back(unlimited.admit("192.0.2.7"));
  CHECK(held.back().admitted);
  CHECK(unlimited.addresses() == 0);  // nothing is counted

  AddressConnectionLimiter limiter(1);
  auto a = limiter.admit("");
  auto b = limiter.admit("");
  CHECK(a.admitted);
  CHECK(b.admitted);
  CHECK(limiter.addresses() == 0);
}

TEST_CASE("The connection budget stops at its maximum and frees on release", "[limits]") {
  ConnectionBudget budget(3, nullptr);
  CHECK(budget.try_acquire());
  CHECK(budget.try_acquire());
  CHECK(budget.try_acquire());
  CHECK_FALSE(budget.try_acquire());
  CHECK(budget.open() == 3);
  budget.release();
  CHECK(budget.open() == 2);
  CHECK(budget.try_acquire());
  CHECK_FALSE(budget.try_acquire());
}

TEST_CASE("A release wakes the waiters that asked, once each", "[limits]") {
  ConnectionBudget budget(1, nullptr);
  int woken_a = 0;
  int woken_b = 0;
  std::size_t a = budget.add_waiter([&] { ++woken_a; });
  budget.add_waiter([&] { ++woken_b; });
  REQUIRE(budget.try_acquire());
  CHECK_FALSE(budget.try_acquire());
  budget.wake_on_release(a);
  budget.release();
  CHECK(woken_a == 1);
  CHECK(woken_b == 0);  // it did not ask
  REQUIRE(budget.try_acquire());
  budget.release();
  CHECK(woken_a == 1);  // asked once, woken once
}

TEST_CASE("The budget is exact under contention from many threads", "[limits]") {
  constexpr int kMax = 50;
  ConnectionBudget budget(kMax, nullptr);
  std::atomic<int> held{0};
  std::atomic<int> most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        if (!budget.try_acquire()) continue;
        int now = ++held;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        --held;
        budget.release();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(most.load() <= kMax);
  CHECK(budget.open() == 0);
}

TEST_CASE("Paused listeners are counted for /metrics, once per episode", "[limits]") {
  podgate::core::metrics::Registry metrics;
  ConnectionBudget budget(10, &metrics);
  for (int i = 0; i < 10; ++i) REQUIRE(budget.try_acquire());
  budget.listener_paused();
  budget.listener_paused();
  CHECK(budget.paused_listeners() == 2);
  std::string text = metrics.render();
  CHECK(text.find("podgate_listeners_paused 2") != std::string::npos);
  CHECK(text.find("podgate_connection_limit_reached_total 1") != std::string::npos);
  budget.listener_resumed();
  budget.listener_resumed();
  CHECK(metrics.render().find("podgate_listeners_paused 0") != std::string::npos);
}
