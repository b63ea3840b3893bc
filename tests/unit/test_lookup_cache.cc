#include <catch2/catch.hpp>

#include "proxy/directory/lookup_cache.h"

using podgate::directory::Protocol;
using podgate::directory::Route;
using podgate::proxy::LookupCache;
using podgate::proxy::LookupCacheLimits;

namespace {
constexpr std::uint64_t kSecond = 1'000'000'000;

Route route_to(const std::string& pod) {
  Route route;
  route.pod = pod;
  return route;
}

LookupCacheLimits limits(std::size_t entries = 100) {
  LookupCacheLimits limits;
  limits.max_entries = entries;
  limits.negative_ttl_ns = 5 * kSecond;
  limits.stale_ns = 60 * kSecond;
  return limits;
}
}  // namespace

TEST_CASE("A found route is fresh for its TTL, then stale, then gone", "[lookup_cache]") {
  LookupCache cache(limits());
  auto key = LookupCache::key("alice@example.com", Protocol::Imap);
  cache.store_found(key, route_to("pod-1"), 30 * kSecond, 1000 * kSecond);
  auto fresh = cache.find(key, 1029 * kSecond);
  CHECK(fresh.state == LookupCache::State::FreshFound);
  REQUIRE(fresh.route);
  CHECK(fresh.route->pod == "pod-1");
  CHECK(cache.find(key, 1030 * kSecond).state == LookupCache::State::Stale);
  CHECK(cache.find(key, 1089 * kSecond).state == LookupCache::State::Stale);
  CHECK(cache.find(key, 1090 * kSecond).state == LookupCache::State::Missing);
  CHECK(cache.size() == 0);
}

TEST_CASE("Unknown users are remembered briefly and never served stale", "[lookup_cache]") {
  LookupCache cache(limits());
  auto key = LookupCache::key("nobody@example.com", Protocol::Pop3);
  cache.store_unknown(key, 0);
  CHECK(cache.find(key, 4 * kSecond).state == LookupCache::State::FreshUnknown);
  CHECK(cache.find(key, 5 * kSecond).state == LookupCache::State::Missing);
}

TEST_CASE("Cache keys ignore the case of the user but not the protocol", "[lookup_cache]") {
  CHECK(LookupCache::key("Alice@Example.COM", Protocol::Imap) ==
        LookupCache::key("alice@example.com", Protocol::Imap));
  CHECK(LookupCache::key("alice@example.com", Protocol::Imap) !=
        LookupCache::key("alice@example.com", Protocol::Smtp));
}

TEST_CASE("A full cache drops the entry stored longest ago", "[lookup_cache]") {
  LookupCache cache(limits(2));
  cache.store_found("a", route_to("pod-a"), 30 * kSecond, 0);
  cache.store_found("b", route_to("pod-b"), 30 * kSecond, 0);
  cache.store_found("a", route_to("pod-a2"), 30 * kSecond, 1);  // refreshed: now the newest
  cache.store_found("c", route_to("pod-c"), 30 * kSecond, 2);
  CHECK(cache.size() == 2);
  CHECK(cache.find("b", 3).state == LookupCache::State::Missing);
  CHECK(cache.find("a", 3).route->pod == "pod-a2");
  CHECK(cache.find("c", 3).route->pod == "pod-c");
}

TEST_CASE("Forgetting a user drops every protocol's entry", "[lookup_cache]") {
  LookupCache cache(limits());
  cache.store_found(LookupCache::key("alice@example.com", Protocol::Imap), route_to("p"),
                    30 * kSecond, 0);
  cache.store_found(LookupCache::key("alice@example.com", Protocol::Smtp), route_to("p"),
                    30 * kSecond, 0);
  cache.store_found(LookupCache::key("bob@example.com", Protocol::Imap), route_to("p"),
                    30 * kSecond, 0);
  CHECK(cache.forget_user("ALICE@example.com") == 2);
  CHECK(cache.size() == 1);
}

TEST_CASE("A cache of size zero stores nothing", "[lookup_cache]") {
  LookupCache cache(limits(0));
  cache.store_found("a", route_to("pod-a"), 30 * kSecond, 0);
  CHECK(cache.size() == 0);
  CHECK(cache.find("a", 1).state == LookupCache::State::Missing);
}
