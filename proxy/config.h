// podgate's configuration file (JSON, see README.md). Read once at start-up;
// every mistake is reported with the key that holds it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend-directory/directory.h"
#include "core/address.h"

namespace podgate::proxy {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ListenerTls {
  Implicit,  // TLS from the first byte (993, 995, 465)
  StartTls,  // plaintext greeting, TLS after STARTTLS/STLS (143, 110, 587)
};

struct ListenerConfig {
  directory::Protocol protocol = directory::Protocol::Imap;
  std::string listen;  // as written, for logs
  core::SocketAddress address;
  ListenerTls tls = ListenerTls::Implicit;
};

struct Timeouts {
  // Time a client has to log in; RFC 9051 asks for at least 1 minute.
  std::uint32_t preauth_seconds = 60;
  // Silence allowed after login, both ways. IMAP clients refresh IDLE every
  // 29 minutes (RFC 2177), so this must be well above 30 minutes.
  std::uint32_t idle_seconds = 3600;
  std::uint32_t backend_connect_seconds = 10;
  std::uint32_t backend_auth_seconds = 30;
  // Least time between credentials and a "login failed" answer (0: none).
  // Dovecot's own default is 2 s; matching it keeps unknown users (answered
  // here) indistinguishable from wrong passwords (answered by the pod).
  std::uint32_t auth_failure_delay_ms = 2000;
};

struct Limits {
  std::size_t max_command_bytes = 8192;  // one pre-auth command, literals included
  std::uint32_t max_invalid_commands = 5;
};

// Exactly one source: "file", "url" (podgate-directory servers) or
// "auth_http" (an nginx mail auth service).
enum class DirectorySource { File, Http, AuthHttp };

struct DirectoryConfig {
  DirectorySource source = DirectorySource::File;
  std::string file;
  std::vector<std::string> urls;  // tried in order; the last one that answered first
  std::string auth_http;
  // Per HTTP request, connect included; the next URL is tried after it.
  std::uint32_t timeout_ms = 1000;
  std::uint32_t max_connections = 8;  // per URL
  // "unknown user" answers are remembered this long (found routes: the TTL
  // of the answer).
  std::uint32_t negative_ttl_seconds = 5;
  // How long after its TTL a found route may still be served while no
  // directory URL answers.
  std::uint32_t stale_seconds = 86400;
  std::uint32_t cache_entries = 100000;
};

// More event-loop threads than this only adds contention.
inline constexpr unsigned kMaxWorkers = 256;

struct Config {
  std::vector<ListenerConfig> listeners;
  std::string certificate;
  std::string private_key;
  // CA certificates (PEM) that pods' certificates must chain to, for pods
  // with backend_tls "implicit"; "" encrypts without verifying.
  std::string backend_ca;
  DirectoryConfig directory;
  std::string access_log = "-";  // "-" is standard output
  std::string admin_listen;      // "" when there is no admin API
  core::SocketAddress admin_address;
  Timeouts timeouts;
  Limits limits;
  // Event-loop threads, each with its own listening sockets (SO_REUSEPORT);
  // 0: one per core.
  unsigned workers = 0;
};

// Relative paths are resolved against the config file's folder.
Config load_config(const std::string& path);

}  // namespace podgate::proxy
