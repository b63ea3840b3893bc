// What one login came to: success with its phase times, or the first thing
// that went wrong, named by kind so the report can count them.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>

#include "bench/podgate-bench/latency.h"

namespace podgate::bench {

enum class ErrorKind {
  Connect,          // refused or unreachable
  Tls,              // handshake failed, or STARTTLS/STLS was refused
  Greeting,         // the server's greeting (or SMTP's EHLO answer) was a refusal
  AuthFailed,       // the login answer was a refusal
  AuthUnavailable,  // IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP], SMTP 454
  Command,          // the command after login was refused
  Protocol,         // an answer we cannot parse, or one that makes no sense here
  Closed,           // the server closed (or reset) before the logout answer
  Timeout,          // the login took longer than --timeout-ms
};
inline constexpr std::size_t kErrorKindCount = 9;

// "connect", "tls", "auth_failed", ...: the keys of the report's "errors".
const char* error_name(ErrorKind kind);

struct LoginOutcome {
  bool ok = false;
  ErrorKind error = ErrorKind::Protocol;
  std::array<double, kPhaseCount> phase_ms{};
  std::bitset<kPhaseCount> measured;  // phases that took place (no tls without TLS)
  std::uint64_t command_bytes = 0;    // plaintext the server sent during the command
  bool resumed = false;               // the TLS handshake resumed a session
  // When the command ran (monotonic ns), for throughput over the time when
  // any command was running.
  std::uint64_t command_start_ns = 0;
  std::uint64_t command_end_ns = 0;

  void set(Phase phase, double ms) {
    phase_ms[static_cast<std::size_t>(phase)] = ms;
    measured.set(static_cast<std::size_t>(phase));
  }
};

}  // namespace podgate::bench
