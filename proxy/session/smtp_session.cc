#include "proxy/session/smtp_session.h"

#include <utility>

#include "proxy/session/smtp_backend_login.h"

namespace podgate::proxy {

namespace {

// Answers of DESIGN.md's error table (RFC 4954, RFC 3207, RFC 5321). The
// pod's own failure text is never passed on before AUTH succeeds.
constexpr std::string_view kAuthFailed = "535 5.7.8 Authentication credentials invalid\r\n";
constexpr std::string_view kDisabled = "535 5.7.8 Mail submission is disabled for this account\r\n";
constexpr std::string_view kUnavailable = "454 4.7.0 Temporary authentication failure\r\n";
constexpr std::string_view kNeedsTls = "530 5.7.0 Must issue a STARTTLS command first\r\n";
constexpr std::string_view kNeedsAuth = "530 5.7.0 Authentication required\r\n";
constexpr std::string_view kTooManyErrors = "421 4.7.0 Too many errors, closing connection\r\n";

}  // namespace

void SmtpSession::accept(Worker& worker, uv_stream_t* server, const ListenerConfig& listener) {
  (new SmtpSession(worker, listener))->start(server);
}

SmtpSession::SmtpSession(Worker& worker, const ListenerConfig& listener)
    : Session(worker, listener), parser_(worker.config->limits.max_command_bytes) {}

void SmtpSession::greet() {
  send("220 podgate ESMTP ready\r\n");
}

std::string SmtpSession::preauth_timeout_goodbye() const {
  return "421 4.4.2 Timeout, closing connection\r\n";
}

std::string SmtpSession::shutdown_goodbye() const {
  return "421 4.3.2 Server shutting down\r\n";
}

// Mid-transaction there is no good place for a reply of our own.
std::string SmtpSession::pod_lost_goodbye() const {
  return "";
}

std::string SmtpSession::kicked_goodbye() const {
  return "421 4.3.2 Session closed by the administrator; please reconnect.\r\n";
}

// RFC 5321 section 3.1: a server may answer the connection with 421.
std::string SmtpSession::too_many_connections_goodbye() const {
  return "421 4.7.0 Too many connections from your address\r\n";
}

std::string SmtpSession::too_many_auth_attempts_goodbye() const {
  return "421 4.7.0 Too many authentication failures, closing connection\r\n";
}

void SmtpSession::on_tls_established() {
  // RFC 3207 section 4.2: after TLS the client starts over with EHLO.
  ehlo_name_.clear();
}

std::string SmtpSession::ehlo_answer() const {
  std::string answer = "250-podgate\r\n";
  for (const std::string& extension : worker_.smtp_extensions)
    answer += "250-" + extension + "\r\n";
  if (tls_active()) {
    answer += "250-AUTH ";
    answer += sasl::mechanism_list(listener_.mechanisms, "", " ");
    answer += "\r\n";
  } else {
    answer += "250-STARTTLS\r\n";
  }
  // The last line ends the reply.
  answer.replace(answer.rfind("250-"), 4, "250 ");
  return answer;
}

void SmtpSession::on_client_input(std::string_view bytes) {
  parser_.feed(bytes);
  if (in_preauth()) process_client_input();
}

void SmtpSession::process_client_input() {
  processing_input_ = true;
  bool more = true;
  while (more && in_preauth()) {
    smtp::Event event = parser_.next();
    switch (event.type) {
      case smtp::Event::Type::NeedMore:
        more = false;
        break;
      case smtp::Event::Type::Command:
        handle_command(event.command);
        break;
      case smtp::Event::Type::SaslResponse:
        on_sasl_step(sasl_.respond(event.sasl_line));
        break;
      case smtp::Event::Type::Error:
        if (event.error.fatal()) {
          send("500 5.5.6 Line too long\r\n");
          send(kTooManyErrors);
          finish(CloseReason::LineTooLong);
        } else {
          reject_invalid("501 5.5.4 Syntax error\r\n");
        }
        break;
    }
  }
  processing_input_ = false;
  resume_client_input();
}

void SmtpSession::reject_invalid(std::string_view answer) {
  send(answer);
  if (++invalid_commands_ >= worker_.config->limits.max_invalid_commands) {
    send(kTooManyErrors);
    finish(CloseReason::TooManyErrors);
  }
}

void SmtpSession::handle_command(const smtp::Command& command) {
  using smtp::CommandKind;
  switch (command.kind) {
    case CommandKind::Ehlo:
      ehlo_name_ = command.argument;
      sasl_ = SaslExchange();
      send(ehlo_answer());
      break;
    case CommandKind::Helo:
      ehlo_name_ = command.argument;
      send("250 podgate\r\n");
      break;
    case CommandKind::StartTls:
      start_tls_command();
      break;
    case CommandKind::Auth:
      if (!tls_active()) {
        send(kNeedsTls);
      } else if (ehlo_name_.empty()) {
        reject_invalid("503 5.5.1 Send EHLO first\r\n");
      } else {
        on_sasl_step(
            sasl_.start(command.mechanism, listener_.mechanisms, command.initial_response));
      }
      break;
    case CommandKind::Mail:
    case CommandKind::Rcpt:
    case CommandKind::Data:
    case CommandKind::Bdat:
      reject_invalid(tls_active() ? kNeedsAuth : kNeedsTls);
      break;
    case CommandKind::Rset:
    case CommandKind::Noop:
      send("250 2.0.0 OK\r\n");
      break;
    case CommandKind::Quit:
      send("221 2.0.0 Bye\r\n");
      finish(CloseReason::Logout);
      break;
    case CommandKind::Unknown:
      reject_invalid("502 5.5.2 Command not recognized\r\n");
      break;
  }
}

void SmtpSession::on_sasl_step(SaslExchange::Step step) {
  using Kind = SaslExchange::Step::Kind;
  switch (step.kind) {
    case Kind::Challenge:
      send("334 " + step.challenge + "\r\n");
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
      send("501 5.0.0 Authentication canceled\r\n");
      break;
    case LoginOutcome::InvalidBase64:
      reject_invalid("501 5.5.2 Invalid base64 data\r\n");
      break;
    case LoginOutcome::UnsupportedMechanism:
      send("504 5.5.4 Unrecognized authentication type\r\n");
      break;
    default:  // MalformedCredentials: a refusal like any other
      refuse_credentials(std::move(step.user));
      break;
  }
}

void SmtpSession::start_tls_command() {
  if (tls_active()) {
    reject_invalid("503 5.5.1 TLS already active\r\n");
    return;
  }
  // Whatever the client pipelined after STARTTLS was sent in the clear and
  // could have been injected by a man in the middle: it must never run.
  parser_.discard_buffered();
  send("220 2.0.0 Ready to start TLS\r\n");
  start_tls();
}

// ---------------------------------------------------------------------------
// The login hop, SMTP words

std::unique_ptr<BackendLogin> SmtpSession::make_backend_login(const Credentials& credentials,
                                                              ClientIdentity identity) {
  auto mechanism = route().smtp_auth == "login" ? SmtpBackendLogin::Mechanism::Login
                                                : SmtpBackendLogin::Mechanism::Plain;
  return std::make_unique<SmtpBackendLogin>(credentials, std::move(identity), ehlo_name_,
                                            mechanism);
}

void SmtpSession::answer_login_failed(LoginOutcome outcome) {
  if (answered_as_auth_failure(outcome)) {
    if (!refusal_smtp_code().empty()) {
      // An auth_http service chose the code (nginx's Auth-Error-Code).
      send(refusal_smtp_code() + " Authentication failed\r\n");
    } else {
      send(kAuthFailed);
    }
  } else if (outcome == LoginOutcome::Disabled) {
    send(kDisabled);
  } else {
    send(kUnavailable);  // InUse too: SMTP has no word for a busy mailbox
  }
}

void SmtpSession::answer_logged_in(BackendLogin&) {
  send("235 2.7.0 Authentication successful\r\n");
}

std::string SmtpSession::take_pipelined_input() {
  return parser_.take_unparsed();
}

void SmtpSession::resume_preauth() {
  if (!processing_input_) process_client_input();
}

}  // namespace podgate::proxy
