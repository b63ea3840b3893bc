#include "proxy/session/pop3_session.h"

#include <utility>

#include "proxy/session/pop3_backend_login.h"

namespace podgate::proxy {

namespace {

// Answers of DESIGN.md's error table, with RFC 2449/3206 response codes. The
// pod's own failure text is never passed on before login.
constexpr std::string_view kAuthFailed = "-ERR [AUTH] Authentication failed.\r\n";
constexpr std::string_view kDisabled = "-ERR [AUTH] POP3 access is disabled for this account.\r\n";
constexpr std::string_view kPrivacyRequired =
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n";
constexpr std::string_view kUnavailable =
    "-ERR [SYS/TEMP] Mail server temporarily unavailable, try again later.\r\n";
constexpr std::string_view kInUse = "-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n";

}  // namespace

void Pop3Session::accept(Worker& worker, uv_stream_t* server, const ListenerConfig& listener) {
  (new Pop3Session(worker, listener))->start(server);
}

Pop3Session::Pop3Session(Worker& worker, const ListenerConfig& listener)
    : Session(worker, listener), parser_(worker.config->limits.max_command_bytes) {}

std::string Pop3Session::capabilities() const {
  std::string list = "+OK Capability list follows\r\nCAPA\r\n";
  if (tls_active()) {
    list += "USER\r\nSASL ";
    list += sasl::mechanism_list(listener_.mechanisms, "", " ");
    list += "\r\n";
  } else {
    list += "STLS\r\n";  // RFC 2595: no credentials before TLS on this port
  }
  list += "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nIMPLEMENTATION podgate\r\n.\r\n";
  return list;
}

void Pop3Session::greet() {
  send("+OK podgate ready.\r\n");
}

std::string Pop3Session::preauth_timeout_goodbye() const {
  return "-ERR Disconnected for inactivity.\r\n";
}

std::string Pop3Session::shutdown_goodbye() const {
  return "-ERR Server shutting down.\r\n";
}

// POP3 has no unsolicited responses: a lost pod just closes the connection.
std::string Pop3Session::pod_lost_goodbye() const {
  return "";
}

std::string Pop3Session::kicked_goodbye() const {
  // POP3 has no unsolicited replies: a client would take any line for the
  // answer to its next command. Closing is the clear message.
  return "";
}

// In place of the greeting, which a client reads as a reply (RFC 2449 code).
std::string Pop3Session::too_many_connections_goodbye() const {
  return "-ERR [SYS/TEMP] Too many connections from your address.\r\n";
}

// The -ERR [AUTH] just sent is the last reply; then the connection closes.
std::string Pop3Session::too_many_auth_attempts_goodbye() const {
  return "";
}

void Pop3Session::on_client_input(std::string_view bytes) {
  parser_.feed(bytes);
  if (in_preauth()) process_client_input();
}

void Pop3Session::process_client_input() {
  processing_input_ = true;
  bool more = true;
  while (more && in_preauth()) {
    pop3::Event event = parser_.next();
    switch (event.type) {
      case pop3::Event::Type::NeedMore:
        more = false;
        break;
      case pop3::Event::Type::Command:
        handle_command(event.command);
        break;
      case pop3::Event::Type::SaslResponse:
        on_sasl_step(sasl_.respond(event.sasl_line));
        break;
      case pop3::Event::Type::Error:
        if (event.error.fatal()) {
          send("-ERR Line too long.\r\n");
          finish(CloseReason::LineTooLong);
        } else {
          reject_invalid("-ERR " + event.error.message + "\r\n");
        }
        break;
    }
  }
  processing_input_ = false;
  resume_client_input();
}

void Pop3Session::reject_invalid(std::string_view answer) {
  send(answer);
  // DESIGN.md: too many errors end with the -ERR, then the connection closes.
  if (++invalid_commands_ >= worker_.config->limits.max_invalid_commands) {
    finish(CloseReason::TooManyErrors);
  }
}

bool Pop3Session::require_tls() {
  if (tls_active()) return true;
  send(kPrivacyRequired);
  return false;
}

void Pop3Session::handle_command(pop3::Command& command) {
  using pop3::CommandKind;
  switch (command.kind) {
    case CommandKind::Capa:
      send(capabilities());
      break;
    case CommandKind::Noop:
      send("+OK\r\n");
      break;
    case CommandKind::Quit:
      send("+OK Logging out.\r\n");
      finish(CloseReason::Logout);
      break;
    case CommandKind::Stls:
      start_tls_command();
      break;
    case CommandKind::User:
      if (!require_tls()) break;
      user_ = command.argument;
      send("+OK\r\n");
      break;
    case CommandKind::Pass:
      if (!require_tls()) break;
      if (user_.empty()) {
        reject_invalid("-ERR No username given.\r\n");
        break;
      }
      start_login(Credentials{std::exchange(user_, {}), std::move(command.password)});
      break;
    case CommandKind::Auth:
      if (command.mechanism.empty()) {
        // RFC 5034 section 4: a bare AUTH lists the mechanisms.
        std::string list = "+OK\r\n";
        if (tls_active()) {
          list += sasl::mechanism_list(listener_.mechanisms, "", "\r\n");
          list += "\r\n";
        }
        send(list + ".\r\n");
        break;
      }
      if (!require_tls()) break;
      on_sasl_step(sasl_.start(command.mechanism, listener_.mechanisms, command.initial_response));
      break;
    case CommandKind::Unknown:
      reject_invalid("-ERR Unknown command, or not allowed before login.\r\n");
      break;
  }
}

void Pop3Session::on_sasl_step(SaslExchange::Step step) {
  using Kind = SaslExchange::Step::Kind;
  switch (step.kind) {
    case Kind::Challenge:
      send("+ " + step.challenge + "\r\n");
      parser_.expect_sasl_response();
      return;
    case Kind::Credentials:
      start_login(std::move(step.credentials));
      return;
    case Kind::Failed:
      break;
  }
  switch (step.failure) {
    case LoginOutcome::Cancelled:
      send("-ERR Authentication canceled.\r\n");
      break;
    case LoginOutcome::InvalidBase64:
      reject_invalid("-ERR Invalid base64 data in authentication response.\r\n");
      break;
    case LoginOutcome::UnsupportedMechanism:
      send("-ERR Unsupported authentication mechanism.\r\n");
      break;
    default:  // MalformedCredentials: a refusal like any other
      refuse_credentials(std::move(step.user));
      break;
  }
}

void Pop3Session::start_tls_command() {
  if (tls_active()) {
    reject_invalid("-ERR TLS is already active.\r\n");
    return;
  }
  // Whatever the client pipelined after STLS was sent in the clear and could
  // have been injected by a man in the middle: it must never run.
  parser_.discard_buffered();
  send("+OK Begin TLS negotiation now.\r\n");
  start_tls();
}

// ---------------------------------------------------------------------------
// The login hop, POP3 words

std::unique_ptr<BackendLogin> Pop3Session::make_backend_login(const Credentials& credentials,
                                                              ClientIdentity identity) {
  return std::make_unique<Pop3BackendLogin>(credentials, std::move(identity));
}

void Pop3Session::answer_login_failed(LoginOutcome outcome) {
  if (answered_as_auth_failure(outcome)) {
    send(kAuthFailed);
  } else if (outcome == LoginOutcome::Disabled) {
    send(kDisabled);
  } else if (outcome == LoginOutcome::InUse) {
    send(kInUse);
  } else {
    send(kUnavailable);
  }
}

void Pop3Session::answer_logged_in(BackendLogin&) {
  send("+OK Logged in.\r\n");
}

std::string Pop3Session::take_pipelined_input() {
  return parser_.take_unparsed();
}

void Pop3Session::resume_preauth() {
  if (!processing_input_) process_client_input();
}

}  // namespace podgate::proxy
