#include "proxy/session/imap_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "proxy/protocol/sasl/sasl.h"

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
constexpr std::string_view kTooManyErrors = "* BYE Too many invalid commands.\r\n";
constexpr std::string_view kTooLong = "* BYE Command line too long, disconnecting.\r\n";
constexpr std::string_view kPreauthTimeout = "* BYE Disconnected for inactivity.\r\n";
constexpr std::string_view kShutdown = "* BYE Server shutting down.\r\n";
constexpr std::string_view kBackendLost =
    "* BYE [UNAVAILABLE] Connection to the mail server was lost.\r\n";

// Time allowed for queued output to reach a closing client before we drop it.
constexpr std::uint64_t kCloseGraceMs = 5000;

constexpr std::uint64_t kNsPerMs = 1000000;

std::string tagged(const std::string& tag, std::string_view text) {
  std::string line = tag;
  line += ' ';
  line += text;
  line += "\r\n";
  return line;
}

}  // namespace

void ImapSession::accept(Worker& worker, uv_stream_t* server, const ListenerConfig& listener) {
  auto* session = new ImapSession(worker, listener);
  if (session->client_->accept_from(server) != 0) {
    session->finish("accept_failed");
    return;
  }
  session->record_.client = session->client_->peer().text();
  if (listener.tls == ListenerTls::Implicit) {
    session->state_ = State::TlsHandshake;
    if (!session->client_->start_tls_server(worker.server_tls)) {
      session->finish("tls_failed");
      return;
    }
  } else {
    session->greet();
  }
  session->arm_preauth_deadline();
  session->client_->start_reading();
}

ImapSession::ImapSession(Worker& worker, const ListenerConfig& listener)
    : worker_(worker),
      listener_(listener),
      client_(std::make_unique<core::Stream>(worker.loop, *this)),
      timer_(
          worker.loop, [this] { on_timer(); },
          [this] {
            timer_closed_ = true;
            maybe_free();
          }),
      parser_(worker.config->limits.max_command_bytes) {
  accepted_ns_ = core::now_ns();
  record_.session = worker.next_session_id();
  record_.protocol = "imap";
  record_.listener = listener.listen;
  worker_.sessions.insert(this);
}

ImapSession::~ImapSession() {
  worker_.sessions.erase(this);
}

double ImapSession::ms_since(std::uint64_t start_ns) const {
  return static_cast<double>(core::now_ns() - start_ns) / kNsPerMs;
}

void ImapSession::send(std::string_view text) {
  client_->write(text);
}

std::string ImapSession::capabilities() const {
  std::string capabilities = "IMAP4rev1 SASL-IR LITERAL+ ID";
  if (client_->tls_active()) {
    capabilities += " AUTH=PLAIN AUTH=LOGIN";
  } else {
    // RFC 9051 section 6.2.3: no authentication before TLS on this port.
    capabilities += " STARTTLS LOGINDISABLED";
  }
  return capabilities;
}

void ImapSession::greet() {
  state_ = State::PreAuth;
  send("* OK [CAPABILITY " + capabilities() + "] podgate ready.\r\n");
  credentials_start_ns_ = core::now_ns();
}

void ImapSession::arm_preauth_deadline() {
  if (preauth_deadline_ns_ == 0) {
    preauth_deadline_ns_ =
        accepted_ns_ + std::uint64_t{worker_.config->timeouts.preauth_seconds} * 1000 * kNsPerMs;
  }
  std::uint64_t now = core::now_ns();
  timer_.start(now >= preauth_deadline_ns_ ? 0 : (preauth_deadline_ns_ - now) / kNsPerMs + 1);
}

// ---------------------------------------------------------------------------
// Stream events

void ImapSession::on_stream_data(core::Stream& stream, std::string_view bytes) {
  if (&stream == backend_.get()) {
    if (state_ == State::Relay) {
      relay(*backend_, *client_, bytes);
    } else if (state_ == State::BackendLogin) {
      on_backend_data(bytes);
    }
    return;
  }
  if (&stream != client_.get()) return;
  switch (state_) {
    case State::PreAuth:
    case State::SaslExchange:
      parser_.feed(bytes);
      process_client_input();
      break;
    case State::Relay:
      relay(*client_, *backend_, bytes);
      break;
    default:
      // Reading is paused in the other states; bytes that raced the pause
      // wait in the parser for the login's outcome.
      parser_.feed(bytes);
      break;
  }
}

void ImapSession::on_stream_end(core::Stream& stream, core::StreamEnd why) {
  if (state_ == State::Closing) return;
  if (&stream == client_.get()) {
    if (state_ == State::Relay && why == core::StreamEnd::PeerClosed && backend_) {
      // A half-close: the pod may still answer what came before (LOGOUT).
      // Pass the end on and keep relaying until the pod closes too.
      client_finished_ = true;
      backend_->shutdown_write();
      return;
    }
    finish(why == core::StreamEnd::TlsFailed ? "tls_failed" : "client_closed");
    return;
  }
  if (&stream != backend_.get()) return;
  switch (state_) {
    case State::BackendLogin:
      spdlog::warn("session {}: pod server {} closed during login ({})", record_.session,
                   record_.backend, core::to_string(why));
      login_failed("unavailable", kUnavailable);
      break;
    case State::Relay:
      if (client_finished_) {
        finish("client_closed");
        break;
      }
      if (why != core::StreamEnd::PeerClosed) send(kBackendLost);
      finish("backend_closed");
      break;
    default:
      break;
  }
}

void ImapSession::on_stream_closed(core::Stream& stream) {
  if (&stream == client_.get()) {
    client_.reset();
  } else if (&stream == backend_.get()) {
    backend_.reset();
  } else {
    std::erase_if(closing_backends_, [&](const auto& retired) { return retired.get() == &stream; });
  }
  maybe_free();
}

void ImapSession::on_stream_tls_ready(core::Stream& stream) {
  if (&stream != client_.get()) return;
  record_.tls = client_->tls_version();
  record_.phases.tls = ms_since(phase_start_ns_ ? phase_start_ns_ : accepted_ns_);
  if (state_ == State::TlsHandshake) {
    greet();
  } else if (state_ == State::StartTlsHandshake) {
    state_ = State::PreAuth;
    credentials_start_ns_ = core::now_ns();
  }
}

void ImapSession::on_stream_drained(core::Stream& stream) {
  if (state_ != State::Relay) return;
  // The congested side caught up: resume reading the side that feeds it.
  if (&stream == client_.get() && backend_) backend_->start_reading();
  if (&stream == backend_.get()) client_->start_reading();
}

// ---------------------------------------------------------------------------
// Client side, before login

void ImapSession::process_client_input() {
  processing_input_ = true;
  bool more = true;
  while (more && (state_ == State::PreAuth || state_ == State::SaslExchange)) {
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
        handle_sasl_line(event.sasl_line);
        break;
      case imap::Event::Type::Error:
        handle_parse_error(event.error);
        break;
    }
  }
  processing_input_ = false;
  if (state_ == State::PreAuth || state_ == State::SaslExchange) client_->start_reading();
}

void ImapSession::reject_invalid(const std::string& tag, std::string_view answer) {
  send(tagged(tag, answer));
  if (++invalid_commands_ >= worker_.config->limits.max_invalid_commands) {
    send(kTooManyErrors);
    finish("too_many_errors");
  }
}

void ImapSession::handle_parse_error(const imap::Error& error) {
  if (error.fatal()) {
    send(tagged(error.tag, "BAD Command line too long."));
    send(kTooLong);
    finish("line_too_long");
    return;
  }
  reject_invalid(error.tag, "BAD " + error.message);
}

void ImapSession::handle_command(const imap::Command& command) {
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
      finish("logout");
      break;
    case CommandKind::Id:
      send("* ID (\"name\" \"podgate\")\r\n" + tagged(command.tag, "OK ID completed."));
      break;
    case CommandKind::StartTls:
      start_tls(command.tag);
      break;
    case CommandKind::Login:
      if (!client_->tls_active()) {
        send(tagged(command.tag, kPrivacyRequired));
        break;
      }
      login_tag_ = command.tag;
      start_login(command.user, command.password);
      break;
    case CommandKind::Authenticate:
      start_authenticate(command);
      break;
    case CommandKind::Unknown:
      reject_invalid(command.tag, "BAD Unknown command, or not allowed before login.");
      break;
  }
}

void ImapSession::start_tls(const std::string& tag) {
  if (client_->tls_active()) {
    reject_invalid(tag, "BAD TLS is already active.");
    return;
  }
  // Whatever the client pipelined after STARTTLS was sent in the clear and
  // could have been injected by a man in the middle: it must never run.
  parser_.discard_buffered();
  send(tagged(tag, "OK Begin TLS negotiation now."));
  if (!client_->start_tls_server(worker_.server_tls)) {
    finish("tls_failed");
    return;
  }
  state_ = State::StartTlsHandshake;
  phase_start_ns_ = core::now_ns();
}

void ImapSession::start_authenticate(const imap::Command& command) {
  if (!client_->tls_active()) {
    send(tagged(command.tag, kPrivacyRequired));
    return;
  }
  login_tag_ = command.tag;
  if (command.mechanism == "PLAIN") {
    sasl_step_ = SaslStep::PlainResponse;
    if (command.initial_response) {
      handle_sasl_line(*command.initial_response);
      return;
    }
    send("+ \r\n");
  } else if (command.mechanism == "LOGIN") {
    if (command.initial_response) {
      sasl_step_ = SaslStep::LoginUser;
      handle_sasl_line(*command.initial_response);
      return;
    }
    sasl_step_ = SaslStep::LoginUser;
    send("+ VXNlcm5hbWU6\r\n");  // "Username:"
  } else {
    send(tagged(command.tag, "NO Unsupported authentication mechanism."));
    return;
  }
  state_ = State::SaslExchange;
  parser_.expect_sasl_response();
}

void ImapSession::handle_sasl_line(const std::string& line) {
  state_ = State::PreAuth;
  if (line == "*") {
    send(tagged(login_tag_, "BAD Authentication canceled."));
    return;
  }
  std::optional<std::string> decoded =
      line == "=" ? std::optional<std::string>("") : sasl::base64_decode(line);
  if (!decoded) {
    reject_invalid(login_tag_, "BAD Invalid base64 data in authentication response.");
    return;
  }
  switch (sasl_step_) {
    case SaslStep::PlainResponse: {
      auto credentials = sasl::parse_plain(*decoded);
      // Acting as another user (a non-empty, different authzid) needs master
      // credentials on the pod; podgate does not pass that through.
      if (!credentials ||
          (!credentials->authzid.empty() && credentials->authzid != credentials->authcid)) {
        credentials_done_ns_ = core::now_ns();
        login_failed("auth_failed", kAuthFailed);
        return;
      }
      start_login(std::move(credentials->authcid), std::move(credentials->password));
      return;
    }
    case SaslStep::LoginUser:
      sasl_user_ = std::move(*decoded);
      sasl_step_ = SaslStep::LoginPassword;
      state_ = State::SaslExchange;
      send("+ UGFzc3dvcmQ6\r\n");  // "Password:"
      parser_.expect_sasl_response();
      return;
    case SaslStep::LoginPassword:
      start_login(std::exchange(sasl_user_, {}), std::move(*decoded));
      return;
  }
}

// ---------------------------------------------------------------------------
// The login hop

void ImapSession::start_login(std::string user, std::string password) {
  credentials_done_ns_ = core::now_ns();
  record_.phases.credentials = ms_since(credentials_start_ns_);
  record_.user = user;
  record_.pod.clear();
  record_.backend.clear();
  // Hold further client input until the pod has answered: commands
  // pipelined behind the login belong to whoever the login makes us.
  client_->stop_reading();
  if (user.empty() || password.empty()) {
    login_failed("auth_failed", kAuthFailed);
    return;
  }

  std::uint64_t lookup_start = core::now_ns();
  route_ = worker_.directory->lookup(user, listener_.protocol);
  record_.phases.directory = ms_since(lookup_start);
  if (!route_) {
    // Unknown users look exactly like wrong passwords.
    login_failed("auth_failed", kAuthFailed);
    return;
  }
  record_.pod = route_->pod;
  if (route_->servers.empty()) {
    spdlog::warn("session {}: pod {} has no {} server", record_.session, route_->pod,
                 directory::to_string(listener_.protocol));
    login_failed("unavailable", kUnavailable);
    return;
  }
  ClientIdentity identity{client_->peer().ip(), client_->peer().port(), client_->local().ip(),
                          client_->local().port(), record_.session};
  backend_login_ =
      std::make_unique<ImapBackendLogin>(std::move(user), std::move(password), identity);
  server_index_ = 0;
  phase_start_ns_ = core::now_ns();
  connect_next_server();
}

void ImapSession::connect_next_server() {
  retire_backend();
  if (server_index_ >= route_->servers.size()) {
    login_failed("unavailable", kUnavailable);
    return;
  }
  const directory::Server& server = route_->servers[server_index_++];
  record_.backend = server.text;
  state_ = State::BackendConnect;
  backend_ = std::make_unique<core::Stream>(worker_.loop, *this);
  timer_.start(std::uint64_t{worker_.config->timeouts.backend_connect_seconds} * 1000);
  if (int status = backend_->connect(server.address); status != 0) {
    on_stream_connected(*backend_, status);
  }
}

void ImapSession::on_stream_connected(core::Stream& stream, int status) {
  if (&stream != backend_.get() || state_ != State::BackendConnect) return;
  if (status != 0) {
    spdlog::warn("session {}: cannot connect to pod {} server {}: {}", record_.session, record_.pod,
                 record_.backend, uv_strerror(status));
    connect_next_server();
    return;
  }
  // The connect timer keeps running until the greeting: a pod that accepts
  // and never greets is as unusable as one that refuses.
  state_ = State::BackendLogin;
  backend_greeting_ns_ = 0;
  backend_->start_reading();
}

void ImapSession::on_backend_data(std::string_view bytes) {
  if (backend_greeting_ns_ == 0) {
    backend_greeting_ns_ = core::now_ns();
    record_.phases.backend_connect = ms_since(phase_start_ns_);
    timer_.start(std::uint64_t{worker_.config->timeouts.backend_auth_seconds} * 1000);
  }
  ImapBackendLogin::Verdict verdict = backend_login_->feed(bytes);
  if (std::string output = backend_login_->take_output(); !output.empty()) backend_->write(output);
  switch (verdict) {
    case ImapBackendLogin::Verdict::Pending:
      return;
    case ImapBackendLogin::Verdict::LoggedIn:
      record_.phases.backend_auth = ms_since(backend_greeting_ns_);
      if (!route_->protocol_enabled) {
        // Checked only now, so that a wrong password still looks like one.
        backend_->write("Q LOGOUT\r\n");
        login_failed("disabled", kDisabled);
        return;
      }
      login_succeeded();
      return;
    case ImapBackendLogin::Verdict::AuthFailed:
      record_.phases.backend_auth = ms_since(backend_greeting_ns_);
      login_failed("auth_failed", kAuthFailed);
      return;
    case ImapBackendLogin::Verdict::Unavailable:
      spdlog::warn("session {}: pod {} server {}: {}", record_.session, record_.pod,
                   record_.backend, backend_login_->problem());
      login_failed("unavailable", kUnavailable);
      return;
  }
}

void ImapSession::login_failed(const char* result, std::string_view answer) {
  record_.result = result;
  record_.phases.total = ms_since(accepted_ns_);
  backend_login_.reset();
  retire_backend();
  failure_answer_ = tagged(login_tag_, answer);
  // Every refused login is answered no sooner than auth_failure_delay_ms
  // after the credentials arrived, whether the pod said no, the user is
  // unknown, or the credentials were malformed: the answer's timing must not
  // tell which, and guessing gets slow.
  std::uint64_t delay_ns = std::uint64_t{worker_.config->timeouts.auth_failure_delay_ms} * 1000000;
  std::uint64_t elapsed_ns = core::now_ns() - credentials_done_ns_;
  if (std::string_view(result) == "auth_failed" && elapsed_ns < delay_ns) {
    state_ = State::FailureDelay;
    client_->stop_reading();
    timer_.start((delay_ns - elapsed_ns) / kNsPerMs + 1);
    return;
  }
  send_failure_answer();
}

void ImapSession::send_failure_answer() {
  state_ = State::PreAuth;
  send(std::exchange(failure_answer_, {}));
  credentials_start_ns_ = core::now_ns();
  arm_preauth_deadline();
  // Commands the client pipelined behind the failed login run now (or, when
  // the answer came without leaving the input loop, when it continues).
  if (!processing_input_) process_client_input();
}

void ImapSession::login_succeeded() {
  record_.result = "ok";
  state_ = State::Relay;
  std::string answer =
      tagged(login_tag_, "OK [CAPABILITY " + backend_login_->capabilities() + "] Logged in");
  std::string from_pod = backend_login_->take_leftover();
  backend_login_.reset();
  send(answer);
  if (!from_pod.empty()) send(from_pod);
  record_.phases.total = ms_since(accepted_ns_);
  // Commands the client pipelined behind its login are the pod's to answer.
  if (std::string pipelined = parser_.take_unparsed(); !pipelined.empty()) {
    backend_->write(pipelined);
  }
  timer_.start(std::uint64_t{worker_.config->timeouts.idle_seconds} * 1000);
  client_->start_reading();
}

void ImapSession::retire_backend() {
  if (!backend_) return;
  backend_->close_after_flush();
  closing_backends_.push_back(std::move(backend_));
}

// ---------------------------------------------------------------------------
// After login: bytes both ways, with backpressure.

void ImapSession::relay(core::Stream& from, core::Stream& to, std::string_view bytes) {
  to.write(bytes);
  if (to.congested()) from.stop_reading();
  timer_.start(std::uint64_t{worker_.config->timeouts.idle_seconds} * 1000);
}

// ---------------------------------------------------------------------------
// Time-outs and the end

void ImapSession::on_timer() {
  switch (state_) {
    case State::TlsHandshake:
    case State::StartTlsHandshake:
      finish("preauth_timeout");
      break;
    case State::PreAuth:
    case State::SaslExchange:
      send(kPreauthTimeout);
      finish("preauth_timeout");
      break;
    case State::BackendConnect:
      spdlog::warn("session {}: connecting to pod {} server {} timed out", record_.session,
                   record_.pod, record_.backend);
      connect_next_server();
      break;
    case State::BackendLogin:
      if (backend_greeting_ns_ == 0) {
        spdlog::warn("session {}: pod {} server {} accepted but did not greet in time",
                     record_.session, record_.pod, record_.backend);
        connect_next_server();
        break;
      }
      spdlog::warn("session {}: pod {} server {} did not finish the login in time", record_.session,
                   record_.pod, record_.backend);
      login_failed("unavailable", kUnavailable);
      break;
    case State::FailureDelay:
      send_failure_answer();
      break;
    case State::Relay:
      finish("idle_timeout");
      break;
    case State::Closing:
      // The grace period for flushing is over.
      if (client_) client_->close();
      if (backend_) backend_->close();
      for (auto& retired : closing_backends_) retired->close();
      break;
  }
}

void ImapSession::shut_down() {
  if (state_ == State::Closing) return;
  if (state_ == State::PreAuth || state_ == State::SaslExchange) send(kShutdown);
  finish("shutdown");
}

void ImapSession::finish(const char* close_reason) {
  if (state_ == State::Closing) return;
  state_ = State::Closing;
  record_.close_reason = close_reason;
  if (client_) {
    record_.bytes_from_client = client_->bytes_read();
    record_.bytes_to_client = client_->bytes_written();
  }
  record_.duration_ms = ms_since(accepted_ns_);
  worker_.access_log->write(record_);

  backend_login_.reset();
  if (client_) client_->close_after_flush();
  retire_backend();
  timer_.start(kCloseGraceMs);
  maybe_free();
}

void ImapSession::maybe_free() {
  if (state_ != State::Closing || client_ || backend_ || !closing_backends_.empty()) return;
  if (!timer_closed_) {
    timer_.close();
    return;
  }
  delete this;
}

}  // namespace podgate::proxy
