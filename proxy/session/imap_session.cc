#include "proxy/session/imap_session.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "proxy/session/imap_backend_login.h"

namespace podgate::proxy {

namespace {

// Answers of DESIGN.md's error table. The pod's own failure text is never
// passed on before login: it could tell which users exist.
constexpr std::string_view kAuthFailed = "NO [AUTHENTICATIONFAILED] Authentication failed.";
constexpr std::string_view kDisabled =
    "NO [AUTHORIZATIONFAILED] IMAP access is disabled for this account.";
constexpr std::string_view kPrivacyRequired =
    "NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) "
    "connections.";
constexpr std::string_view kUnavailable =
    "NO [UNAVAILABLE] Mail server temporarily unavailable, try again later.";
constexpr std::string_view kInUse = "NO [INUSE] Mailbox is in use, try again later.";
constexpr std::string_view kTooManyErrors = "* BYE Too many invalid commands.\r\n";
constexpr std::string_view kTooLong = "* BYE Command line too long, disconnecting.\r\n";

std::string tagged(const std::string& tag, std::string_view text) {
  std::string line = tag;
  line += ' ';
  line += text;
  line += "\r\n";
  return line;
}

}  // namespace

void ImapSession::accept(Worker& worker, uv_stream_t* server, const ListenerConfig& listener) {
  (new ImapSession(worker, listener))->start(server);
}

ImapSession::ImapSession(Worker& worker, const ListenerConfig& listener)
    : Session(worker, listener), parser_(worker.config->limits.max_command_bytes) {}

std::string ImapSession::capabilities() const {
  std::string capabilities = "IMAP4rev1 SASL-IR LITERAL+ ID";
  if (tls_active()) {
    capabilities += ' ';
    capabilities += sasl::mechanism_list(listener_.mechanisms, "AUTH=", " ");
  } else {
    // RFC 9051 section 6.2.3: no authentication before TLS on this port.
    capabilities += " STARTTLS LOGINDISABLED";
  }
  return capabilities;
}

void ImapSession::greet() {
  send("* OK [CAPABILITY " + capabilities() + "] podgate ready.\r\n");
}

std::string ImapSession::preauth_timeout_goodbye() const {
  return "* BYE Disconnected for inactivity.\r\n";
}

std::string ImapSession::shutdown_goodbye() const {
  return "* BYE Server shutting down.\r\n";
}

std::string ImapSession::pod_lost_goodbye() const {
  return "* BYE [UNAVAILABLE] Connection to the mail server was lost.\r\n";
}

std::string ImapSession::kicked_goodbye() const {
  return "* BYE Session closed by the administrator; please log in again.\r\n";
}

std::string ImapSession::too_many_connections_goodbye() const {
  return "* BYE Too many connections from your address.\r\n";
}

std::string ImapSession::too_many_auth_attempts_goodbye() const {
  return "* BYE Too many authentication failures.\r\n";
}

void ImapSession::on_client_input(std::string_view bytes) {
  parser_.feed(bytes);
  if (in_preauth()) process_client_input();
}

void ImapSession::process_client_input() {
  processing_input_ = true;
  bool more = true;
  while (more && in_preauth()) {
    imap::Event event = parser_.next();
    switch (event.type) {
      case imap::Event::Type::NeedMore:
        more = false;
        break;
      case imap::Event::Type::LiteralContinuation:
        send("+ OK\r\n");
        break;
      case imap::Event::Type::Command:
        handle_command(event.command);
        break;
      case imap::Event::Type::SaslResponse:
        on_sasl_step(sasl_.respond(event.sasl_line));
        break;
      case imap::Event::Type::Error:
        handle_parse_error(event.error);
        break;
    }
  }
  processing_input_ = false;
  resume_client_input();
}

void ImapSession::reject_invalid(const std::string& tag, std::string_view answer) {
  send(tagged(tag, answer));
  if (++invalid_commands_ >= worker_.config->limits.max_invalid_commands) {
    send(kTooManyErrors);
    finish(CloseReason::TooManyErrors);
  }
}

void ImapSession::handle_parse_error(const imap::Error& error) {
  if (error.fatal()) {
    send(tagged(error.tag, "BAD Command line too long."));
    send(kTooLong);
    finish(CloseReason::LineTooLong);
    return;
  }
  reject_invalid(error.tag, "BAD " + error.message);
}

void ImapSession::handle_command(imap::Command& command) {
  using imap::CommandKind;
  switch (command.kind) {
    case CommandKind::Capability:
      send("* CAPABILITY " + capabilities() + "\r\n" +
           tagged(command.tag, "OK Capability completed."));
      break;
    case CommandKind::Noop:
      send(tagged(command.tag, "OK NOOP completed."));
      break;
    case CommandKind::Logout:
      send("* BYE Logging out.\r\n" + tagged(command.tag, "OK Logout completed."));
      finish(CloseReason::Logout);
      break;
    case CommandKind::Id:
      send("* ID (\"name\" \"podgate\")\r\n" + tagged(command.tag, "OK ID completed."));
      break;
    case CommandKind::StartTls:
      start_tls_command(command.tag);
      break;
    case CommandKind::Login:
      if (!tls_active()) {
        send(tagged(command.tag, kPrivacyRequired));
        break;
      }
      login_tag_ = command.tag;
      start_login(Credentials{command.user, std::move(command.password)});
      break;
    case CommandKind::Authenticate:
      start_authenticate(command);
      break;
    case CommandKind::Unknown:
      reject_invalid(command.tag, "BAD Unknown command, or not allowed before login.");
      break;
  }
}

void ImapSession::start_authenticate(const imap::Command& command) {
  if (!tls_active()) {
    send(tagged(command.tag, kPrivacyRequired));
    return;
  }
  login_tag_ = command.tag;
  on_sasl_step(sasl_.start(command.mechanism, listener_.mechanisms, command.initial_response));
}

void ImapSession::on_sasl_step(SaslExchange::Step step) {
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
      send(tagged(login_tag_, "BAD Authentication canceled."));
      break;
    case LoginOutcome::InvalidBase64:
      reject_invalid(login_tag_, "BAD Invalid base64 data in authentication response.");
      break;
    case LoginOutcome::UnsupportedMechanism:
      send(tagged(login_tag_, "NO Unsupported authentication mechanism."));
      break;
    default:  // MalformedCredentials: a refusal like any other
      refuse_credentials(std::move(step.user));
      break;
  }
}

void ImapSession::start_tls_command(const std::string& tag) {
  if (tls_active()) {
    reject_invalid(tag, "BAD TLS is already active.");
    return;
  }
  // Whatever the client pipelined after STARTTLS was sent in the clear and
  // could have been injected by a man in the middle: it must never run.
  parser_.discard_buffered();
  send(tagged(tag, "OK Begin TLS negotiation now."));
  start_tls();
}

// ---------------------------------------------------------------------------
// The login hop, IMAP words

std::unique_ptr<BackendLogin> ImapSession::make_backend_login(const Credentials& credentials,
                                                              ClientIdentity identity) {
  return std::make_unique<ImapBackendLogin>(credentials, std::move(identity));
}

void ImapSession::answer_login_failed(LoginOutcome outcome) {
  if (answered_as_auth_failure(outcome)) {
    send(tagged(login_tag_, kAuthFailed));
  } else if (outcome == LoginOutcome::Disabled) {
    send(tagged(login_tag_, kDisabled));
  } else if (outcome == LoginOutcome::InUse) {
    send(tagged(login_tag_, kInUse));
  } else {
    send(tagged(login_tag_, kUnavailable));
  }
}

void ImapSession::answer_logged_in(BackendLogin& login) {
  // The client's own tag, carrying what the pod offers after login.
  const std::string& capabilities = static_cast<ImapBackendLogin&>(login).capabilities();
  send(tagged(login_tag_, "OK [CAPABILITY " + capabilities + "] Logged in"));
}

std::string ImapSession::take_pipelined_input() {
  return parser_.take_unparsed();
}

void ImapSession::resume_preauth() {
  // Commands pipelined behind the refused login run now, unless the answer
  // came from inside the input loop, which simply goes on.
  if (!processing_input_) process_client_input();
}

}  // namespace podgate::proxy
