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
#include "proxy/protocol/sasl/mechanisms.h"

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
  // The SASL mechanisms offered there (after TLS), in this order.
  std::vector<sasl::Mechanism> mechanisms = sasl::default_mechanisms();
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
  // After SIGTERM, how long logged-in sessions may go on to finish by
  // themselves before they are closed (0: close everything at once).
  std::uint32_t drain_seconds = 30;
};

struct Limits {
  std::size_t max_command_bytes = 8192;  // one pre-auth command, literals included
  std::uint32_t max_invalid_commands = 5;
  // Open client connections, all workers together; at the cap podgate stops
  // accepting (connections wait in the listen backlog) until some close.
  // A logged-in session holds two sockets (client and pod) and its TLS
  // state, tens of KB (a session before login: 2-7 KB, measured): 20,000
  // stay within a systemd service's default open-file limit (524,288) and
  // about 1 GB, far beyond what one front door serves in normal traffic, so
  // the cap only bites when something is wrong (a flood, a client bug) and
  // keeps the process alive and answering the connections it has.
  std::uint32_t max_connections = 20000;
  // Open connections per client address (IPv6: per /64); 0: no limit (use
  // 0 behind a balancer that hides client addresses). Postfix's default is
  // 50 and Dovecot's per-user+IP one 10, but an IMAP client keeps up to 5-10
  // connections and an office behind one NAT address has many clients:
  // 100 leaves room for them while one host cannot take the whole cap.
  std::uint32_t max_connections_per_address = 100;
  // Refused logins on one connection before it is closed, as in most mail
  // servers (3); a client that really forgot its password asks again anyway.
  std::uint32_t max_auth_attempts = 3;
};

// Brute force and password spray (see proxy/protection/login_guard.h).
// Failures are counted per client address (IPv6 per /64), per user, per user
// and address, and per wrong password; a repeated wrong password counts once.
struct ProtectionConfig {
  bool enabled = true;
  // A counter with no failure for this long starts over.
  std::uint32_t window_seconds = 900;
  // From this many failures (per address, or user and address) on, each
  // further failure answer waits tarpit_step_ms longer, up to tarpit_max_ms,
  // on top of timeouts.auth_failure_delay_ms.
  std::uint32_t tarpit_after_failures = 3;
  std::uint32_t tarpit_step_ms = 2000;
  std::uint32_t tarpit_max_ms = 15000;
  // Lockouts: past these counts, logins are refused for lockout_seconds
  // with the normal failure answer, without asking the directory or a pod.
  std::uint32_t address_failures = 30;      // one address, any users
  std::uint32_t user_failures = 10;         // one user, any addresses
  std::uint32_t user_address_failures = 5;  // one user from one address
  std::uint32_t password_spray_users = 20;  // one wrong password, this many users
  std::uint32_t lockout_seconds = 900;
  // A user's address that logged in this recently still gets in while the
  // user, the password or the address (a shared NAT) is locked out: an
  // attack elsewhere must not lock the owner out.
  std::uint32_t known_good_seconds = 30 * 86400;
  // Entries per failure table (four tables; about 300 bytes an entry); the
  // least recently used entry makes room.
  std::uint32_t table_entries = 20000;
  // Known-good (user, address) pairs kept; they last longer than failures,
  // so they get a table of their own, sized for the active users.
  std::uint32_t known_good_entries = 100000;
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
  ProtectionConfig protection;
  // Event-loop threads, each with its own listening sockets (SO_REUSEPORT);
  // 0: one per core.
  unsigned workers = 0;
};

// Relative paths are resolved against the config file's folder.
Config load_config(const std::string& path);

}  // namespace podgate::proxy
