// What one podgate-bench run does, as parsed from the command line (main.cc).
// Plain data: every other part of the tool reads it and none changes it.
#pragma once

#include <cstdint>
#include <string>

#include "backend-directory/directory.h"

namespace podgate::bench {

// imap, pop3, smtp: the same names as podgate's (directory::to_string).
using Protocol = directory::Protocol;
enum class TlsMode { Implicit, StartTls, None };
// login: IMAP LOGIN, POP3 USER/PASS, SMTP AUTH LOGIN; plain: SASL PLAIN everywhere.
enum class AuthMechanism { Login, Plain };
// Default: IMAP SELECT INBOX, POP3 STAT, SMTP NOOP. Fetch: IMAP SELECT and
// FETCH 1 BODY.PEEK[]. Idle: IMAP IDLE, only for --hold.
enum class CommandKind { Default, Fetch, None, Idle };

const char* to_string(TlsMode tls);

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  Protocol protocol = Protocol::Imap;
  TlsMode tls = TlsMode::Implicit;
  std::string ca_file;  // empty: the server's certificate is not verified
  std::string server_name = "localhost";

  std::string users_pattern;  // "{n}" is replaced by the user number
  std::string password_pattern;
  std::uint64_t user_count = 1;
  std::string users_file;  // "user password" lines; wins over the patterns

  std::uint64_t logins = 1000;
  std::uint64_t concurrency = 10;
  double rate = 0;  // logins per second; 0 = closed loop
  AuthMechanism auth = AuthMechanism::Login;
  CommandKind command = CommandKind::Default;
  std::uint64_t timeout_ms = 10000;
  bool resume = false;

  std::uint64_t hold = 0;          // > 0: open this many IMAP sessions and keep them
  std::uint64_t hold_seconds = 0;  // 0: until SIGINT/SIGTERM

  bool json = false;
  bool quiet = false;
  std::string plot_file;
};

}  // namespace podgate::bench
