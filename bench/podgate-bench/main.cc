// podgate-bench: many concurrent IMAP, POP3 or SMTP-submission logins against
// one server (podgate, or a pod directly), timed phase by phase on the client
// side; or, with --hold, many logged-in idle IMAP sessions kept open. Exit
// status: 0 if every login succeeded, 1 if any failed, 2 for bad flags.
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/resource.h>
#include <uv.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "bench/podgate-bench/credentials.h"
#include "bench/podgate-bench/hold_driver.h"
#include "bench/podgate-bench/load_driver.h"
#include "bench/podgate-bench/login_script.h"
#include "bench/podgate-bench/options.h"
#include "bench/podgate-bench/report.h"
#include "bench/podgate-bench/svg_plot.h"
#include "bench/podgate-bench/tls_resumption.h"
#include "core/address.h"
#include "core/tls_context.h"

namespace {

using namespace podgate;
using namespace podgate::bench;

constexpr int kExitBadFlags = 2;

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thousands of sockets need more descriptors than the usual soft limit.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Returns the exit status for --help (0) or a parse error (2), or nothing to go on.
std::optional<int> parse_flags(int argc, char** argv, Options& options) {
  CLI::App app{
      "podgate-bench: login-latency load generator for IMAP, POP3 and SMTP submission.\n"
      "Each login: connect, TLS, greeting, (STARTTLS), authenticate, one command, logout;\n"
      "every phase is timed on the client side and reported as percentiles."};
  app.get_formatter()->column_width(34);

  const std::map<std::string, Protocol> protocols = {
      {"imap", Protocol::Imap}, {"pop3", Protocol::Pop3}, {"smtp", Protocol::Smtp}};
  const std::map<std::string, TlsMode> tls_modes = {
      {"implicit", TlsMode::Implicit}, {"starttls", TlsMode::StartTls}, {"none", TlsMode::None}};
  const std::map<std::string, AuthMechanism> mechanisms = {{"login", AuthMechanism::Login},
                                                           {"plain", AuthMechanism::Plain}};
  const std::map<std::string, CommandKind> commands = {{"default", CommandKind::Default},
                                                       {"fetch", CommandKind::Fetch},
                                                       {"none", CommandKind::None}};

  app.add_option("--host", options.host, "server IP address (no name resolution)")
      ->capture_default_str();
  app.add_option("--port", options.port, "server port")->required()->check(CLI::Range(1, 65535));
  app.add_option("--protocol", options.protocol, "imap, pop3 or smtp (default imap)")
      ->transform(CLI::CheckedTransformer(protocols, CLI::ignore_case))
      ->option_text("imap|pop3|smtp");
  app.add_option("--tls", options.tls, "implicit, starttls or none (default implicit)")
      ->transform(CLI::CheckedTransformer(tls_modes, CLI::ignore_case))
      ->option_text("implicit|starttls|none");
  app.add_option("--ca", options.ca_file,
                 "verify the server's certificate against this CA file (PEM) and its name "
                 "against --server-name; WITHOUT --ca THE CERTIFICATE IS NOT VERIFIED")
      ->check(CLI::ExistingFile);
  app.add_option("--server-name", options.server_name, "TLS server name (SNI)")
      ->capture_default_str();
  app.add_option("--users", options.users_pattern,
                 "user name pattern; {n} becomes the user number, e.g. 'user{n}@example.com'");
  app.add_option("--user-count", options.user_count,
                 "users 0..K-1 from --users and --password, used round-robin")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--password", options.password_pattern, "password pattern; {n} as in --users");
  app.add_option("--users-file", options.users_file,
                 "file of 'user password' lines (used round-robin; wins over --users)")
      ->check(CLI::ExistingFile);
  app.add_option("--logins", options.logins, "logins in total")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--concurrency", options.concurrency,
                 "logins in flight at most (closed loop: always this many)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--rate", options.rate,
                 "open loop: start this many logins per second whatever the server does "
                 "(0: closed loop)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  CLI::Option* auth =
      app.add_option("--auth", options.auth,
                     "login (IMAP LOGIN, POP3 USER/PASS, SMTP AUTH LOGIN) or plain (SASL PLAIN); "
                     "default login for imap and pop3, plain for smtp")
          ->transform(CLI::CheckedTransformer(mechanisms, CLI::ignore_case))
          ->option_text("login|plain");
  app.add_option("--command", options.command,
                 "after login: default (IMAP SELECT INBOX, POP3 STAT, SMTP NOOP), fetch (IMAP: "
                 "SELECT INBOX and FETCH 1 BODY.PEEK[], for relay throughput) or none")
      ->transform(CLI::CheckedTransformer(commands, CLI::ignore_case))
      ->option_text("default|fetch|none");
  app.add_option("--timeout-ms", options.timeout_ms,
                 "time allowed per login; a slower one counts as error \"timeout\"")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--resume", options.resume,
               "resume TLS sessions: each connection slot offers the last session it got "
               "(default: a full handshake every login)");
  app.add_option("--hold", options.hold,
                 "open N logged-in IMAP sessions (--concurrency at a time) idling in IDLE, print "
                 "'holding M sessions', keep them until SIGINT/SIGTERM or --hold-seconds")
      ->check(CLI::PositiveNumber);
  app.add_option("--hold-seconds", options.hold_seconds,
                 "with --hold: close the sessions after this many seconds (default: never)");
  app.add_flag("--json", options.json, "print only the JSON report on stdout");
  app.add_option("--plot", options.plot_file, "write the latency CDF of every phase as SVG");
  app.add_flag("--quiet", options.quiet, "no progress line on stderr");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int status = app.exit(error);
    return status == 0 ? 0 : kExitBadFlags;
  }
  if (auth->count() == 0) {
    options.auth = options.protocol == Protocol::Smtp ? AuthMechanism::Plain : AuthMechanism::Login;
  }
  if (options.hold > 0) options.command = CommandKind::Idle;
  return std::nullopt;
}

void check_flags(const Options& options) {
  if (options.users_file.empty() && options.users_pattern.empty()) {
    throw UsageError("give the users: --users PATTERN --password PATTERN, or --users-file FILE");
  }
  if (options.users_file.empty() && options.password_pattern.empty()) {
    throw UsageError("--users needs --password");
  }
  // Every user is made up front; a typo with three more zeros should not eat the memory.
  if (options.users_file.empty() && options.user_count > 10'000'000) {
    throw UsageError("--user-count is limited to 10000000");
  }
  if (options.command == CommandKind::Fetch && options.protocol != Protocol::Imap) {
    throw UsageError("--command fetch is for IMAP only");
  }
  if (options.hold > 0 && options.protocol != Protocol::Imap) {
    throw UsageError("--hold is for IMAP only (sessions idle in IDLE)");
  }
  if (options.hold > 0 && options.rate > 0) {
    throw UsageError("--hold opens sessions --concurrency at a time; --rate does not apply");
  }
  if (options.resume && options.tls == TlsMode::None) {
    throw UsageError("--resume needs --tls implicit or starttls");
  }
}

core::SocketAddress target_address(const Options& options) {
  std::string text = core::bracketed_host(options.host) + ":" + std::to_string(options.port);
  std::optional<core::SocketAddress> address = core::parse_socket_address(text);
  if (!address) throw UsageError("--host must be an IPv4 or IPv6 address, not " + options.host);
  return *address;
}

core::SslCtxPtr tls_context(const Options& options) {
  if (options.tls == TlsMode::None) return nullptr;
  core::SslCtxPtr context = core::make_client_context(options.ca_file);
  if (!options.ca_file.empty()) {
    // make_client_context checks the chain; a client must check the name too.
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(context.get());
    bool is_ip = core::parse_socket_address(core::bracketed_host(options.server_name) + ":0") !=
                 std::nullopt;
    int set = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, options.server_name.c_str())
                    : X509_VERIFY_PARAM_set1_host(param, options.server_name.c_str(),
                                                  options.server_name.size());
    if (set != 1) throw UsageError("cannot verify against --server-name " + options.server_name);
  }
  if (options.resume) TlsResumption::enable(context.get());
  return context;
}

Credentials credentials_for(const Options& options) {
  if (!options.users_file.empty()) return Credentials::from_file(options.users_file);
  return Credentials::from_patterns(options.users_pattern, options.password_pattern,
                                    options.user_count);
}

void print_report(const Options& options, const RunResult& result) {
  if (options.json) {
    std::cout << report_json(result).dump() << std::endl;
  } else {
    std::cout << report_table(result) << std::flush;
  }
}

void write_plot(const Options& options, const RunResult& result) {
  if (options.plot_file.empty()) return;
  std::string title = "podgate-bench: " + result.target + " " + to_string(result.protocol) +
                      ", TLS " + to_string(result.tls) + ", " + std::to_string(result.ok) +
                      " logins";
  std::ofstream file(options.plot_file, std::ios::binary | std::ios::trunc);
  file << latency_cdf_svg(result.phases, title);
  if (!file.flush()) {
    std::fprintf(stderr, "podgate-bench: cannot write %s\n", options.plot_file.c_str());
  }
}

int run(const Options& options) {
  core::SocketAddress target = target_address(options);
  Credentials credentials = credentials_for(options);
  core::SslCtxPtr context = tls_context(options);

  uv_loop_t loop;
  uv_loop_init(&loop);
  LoginSetup setup;
  setup.loop = &loop;
  setup.target = target;
  setup.protocol = options.protocol;
  setup.auth = options.auth;
  setup.plan = {options.tls, options.command};
  setup.tls_context = context.get();
  setup.server_name = options.server_name;
  setup.timeout_ms = options.timeout_ms;

  RunResult result;
  if (options.hold > 0) {
    HoldDriver driver(setup, options, credentials, [&](const RunResult& held) {
      // Scripts wait for this line: it goes out whole and at once.
      std::printf("holding %llu sessions\n", static_cast<unsigned long long>(*held.held));
      if (options.json) {
        std::printf("%s\n", report_json(held).dump().c_str());
      } else if (held.failed() > 0) {
        std::fprintf(stderr, "podgate-bench: %llu sessions could not be opened\n",
                     static_cast<unsigned long long>(held.failed()));
      }
      std::fflush(stdout);
    });
    result = driver.run();
  } else {
    LoadDriver driver(setup, options, credentials);
    result = driver.run();
  }
  uv_loop_close(&loop);

  if (options.hold == 0) print_report(options, result);
  write_plot(options, result);
  return result.failed() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (std::optional<int> status = parse_flags(argc, argv, options)) return *status;
  // A server that closes while we write must not kill the run.
  std::signal(SIGPIPE, SIG_IGN);
  raise_descriptor_limit();
  try {
    check_flags(options);
    return run(options);
  } catch (const std::exception& error) {
    // Only start-up fails by exception: flags, files, the CA.
    std::fprintf(stderr, "podgate-bench: %s\n", error.what());
    return kExitBadFlags;
  }
}
