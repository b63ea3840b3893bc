// The "client address key" that per-client protections count by.
#pragma once

#include <string>

#include "core/address.h"

namespace podgate::proxy {

// Maps a client's address to the key that limits and trackers count under:
//   IPv4                 -> "192.0.2.7"
//   IPv4-mapped IPv6     -> "192.0.2.7" (a dual-stack listener must not give
//                           one IPv4 client a second, separate budget)
//   IPv6                 -> "2001:db8:1:2::/64" (one subscriber is usually
//                           handed a whole /64, so counting single addresses
//                           would let one client rotate through 2^64 keys)
// Any other family (unset, AF_UNIX) maps to "" so callers can tell "unknown"
// apart from a real client; it must not be treated as a shared bucket by accident.
std::string address_key(const core::SocketAddress& address);

}  // namespace podgate::proxy
