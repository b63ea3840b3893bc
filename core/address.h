// "host:port" and "[v6]:port" text to socket addresses and back.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>

namespace podgate::core {

struct SocketAddress {
  sockaddr_storage storage{};
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  std::string ip() const;  // "127.0.0.1" or "::1"
  int port() const;
  std::string text() const;  // "127.0.0.1:993" or "[::1]:993"
};

// "::1" -> "[::1]", "127.0.0.1" -> "127.0.0.1": a host as it stands before
// ":port" in addresses and URLs.
std::string bracketed_host(const std::string& host);

// Parses a numeric address with a port; no name resolution (a proxy must not
// block on DNS). Returns nullopt for anything else.
std::optional<SocketAddress> parse_socket_address(const std::string& text);

}  // namespace podgate::core
