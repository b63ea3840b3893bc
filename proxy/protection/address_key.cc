#include "proxy/protection/address_key.h"

#include <arpa/inet.h>

#include <cstring>

namespace podgate::proxy {

namespace {

std::string ipv4_text(const in_addr& address) {
  char buffer[INET_ADDRSTRLEN] = "";
  inet_ntop(AF_INET, &address, buffer, sizeof buffer);
  return buffer;
}

}  // namespace

std::string address_key(const core::SocketAddress& address) {
  if (address.storage.ss_family == AF_INET) {
    return ipv4_text(reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_addr);
  }
  if (address.storage.ss_family != AF_INET6) return "";

  const in6_addr& v6 = reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    in_addr v4{};
    std::memcpy(&v4, &v6.s6_addr[12], sizeof v4);
    return ipv4_text(v4);
  }
  in6_addr prefix{};
  std::memcpy(prefix.s6_addr, v6.s6_addr, 8);  // the /64 network part; host part stays 0
  char buffer[INET6_ADDRSTRLEN] = "";
  inet_ntop(AF_INET6, &prefix, buffer, sizeof buffer);
  return std::string(buffer) + "/64";
}

}  // namespace podgate::proxy
