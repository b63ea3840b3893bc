#include "proxy/session/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>
#include <variant>

#include "proxy/login_metrics.h"
#include "proxy/protection/address_key.h"
#include "proxy/protection/connection_limits.h"
#include "proxy/protection/login_protection.h"

namespace podgate::proxy {

namespace {

// Time allowed for queued output to reach a closing client before we drop it.
constexpr std::uint64_t kCloseGraceMs = 5000;
constexpr std::uint64_t kNsPerMs = 1000000;
// Time a connection over its address's limit gets to finish the TLS
// handshake that carries its refusal.
constexpr std::uint64_t kRefusalHandshakeMs = 3000;

std::uint64_t seconds_ms(std::uint32_t seconds) {
  return std::uint64_t{seconds} * 1000;
}

}  // namespace

Session::Session(Worker& worker, const ListenerConfig& listener)
    : worker_(worker),
      listener_(listener),
      client_(std::make_unique<core::Stream>(worker.loop, *this)),
      timer_(
          worker.loop, [this] { on_timer(); },
          [this] {
            timer_closed_ = true;
            maybe_free();
          }) {
  accepted_ns_ = core::now_ns();
  accepted_unix_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  record_.session = worker.next_session_id();
  record_.protocol = directory::to_string(listener.protocol);
  record_.listener = listener.listen;
  worker_.sessions.insert(this);
  worker_.login_metrics->session_opened();
}

Session::~Session() {
  worker_.sessions.erase(this);
  // The place the listener took for this connection (limits.max_connections)
  // is free only now that its socket is closed.
  if (worker_.connection_limits) worker_.connection_limits->budget.release();
}

double Session::ms_since(std::uint64_t start_ns) const {
  return static_cast<double>(core::now_ns() - start_ns) / kNsPerMs;
}

void Session::start(uv_stream_t* server) {
  if (client_->accept_from(server) != 0) {
    finish(CloseReason::AcceptFailed);
    return;
  }
  record_.client = client_->peer().text();
  client_address_key_ = address_key(client_->peer());
  admit_client_address();
  arm_preauth_deadline();
  if (listener_.tls == ListenerTls::Implicit) {
    state_ = State::TlsHandshake;
    tls_start_ns_ = accepted_ns_;
    if (!client_->start_tls_server(worker_.server_tls)) {
      finish(CloseReason::TlsFailed);
      return;
    }
  } else {
    client_ready();
  }
  client_->start_reading();
}

void Session::admit_client_address() {
  if (!worker_.connection_limits) return;
  const std::string& key = client_address_key_;
  AddressConnectionLimiter& limiter = worker_.connection_limits->per_address;
  AddressConnectionLimiter::Admission admission = limiter.admit(key);
  if (admission.admitted) {
    address_slot_ = std::move(admission.slot);
    return;
  }
  over_address_limit_ = true;
  worker_.connection_limits->over_address_limit.add();
  // It still holds a place under limits.max_connections: a client that
  // never finishes its TLS handshake must not keep it for the whole
  // pre-auth time, or one host could fill the cap after all.
  preauth_deadline_ns_ =
      accepted_ns_ + std::min<std::uint64_t>(kRefusalHandshakeMs,
                                             seconds_ms(worker_.config->timeouts.preauth_seconds)) *
                         kNsPerMs;
  if (admission.first_refusal) {
    spdlog::warn(
        "client address {} has {} connections open (limits.max_connections_per_address): "
        "refusing more until one closes",
        key, limiter.max_per_address());
  }
}

void Session::client_ready() {
  if (over_address_limit_) {
    // Answered once the client can read it (after TLS on an implicit-TLS
    // port), as Postfix does: a client that is just closed retries at once
    // and its user never learns why.
    send(too_many_connections_goodbye());
    finish(CloseReason::TooManyConnections);
    return;
  }
  state_ = State::PreAuth;
  greet();
  credentials_start_ns_ = core::now_ns();
}

void Session::arm_preauth_deadline() {
  if (preauth_deadline_ns_ == 0) {
    preauth_deadline_ns_ =
        accepted_ns_ + seconds_ms(worker_.config->timeouts.preauth_seconds) * kNsPerMs;
  }
  std::uint64_t now = core::now_ns();
  timer_.start(now >= preauth_deadline_ns_ ? 0 : (preauth_deadline_ns_ - now) / kNsPerMs + 1);
}

void Session::send(std::string_view text) {
  note_client_output(text);
  if (client_) client_->write(text);
}

bool Session::tls_active() const {
  return client_ && client_->tls_active();
}

void Session::pause_client_input() {
  if (client_) client_->stop_reading();
}

void Session::resume_client_input() {
  // A client that sends commands without reading the answers waits until
  // they drained: answers must not pile up in memory (EHLO multiplies input).
  if (state_ == State::PreAuth && client_ && !client_->congested()) client_->start_reading();
}

void Session::start_tls() {
  if (!client_->start_tls_server(worker_.server_tls)) {
    finish(CloseReason::TlsFailed);
    return;
  }
  state_ = State::StartTlsHandshake;
  tls_start_ns_ = core::now_ns();
}

// ---------------------------------------------------------------------------
// Stream events

void Session::on_stream_data(core::Stream& stream, std::string_view bytes) {
  if (&stream == backend_.get()) {
    if (state_ == State::Relay) {
      relay(*backend_, *client_, bytes);
    } else if (state_ == State::BackendLogin) {
      on_backend_data(bytes);
    }
    return;
  }
  if (&stream != client_.get()) return;
  if (state_ == State::Relay) {
    relay(*client_, *backend_, bytes);
  } else if (state_ != State::Closing) {
    // Outside PreAuth the protocol only buffers: reading is paused, and
    // bytes that raced the pause wait for the login's outcome.
    on_client_input(bytes);
    if (state_ == State::PreAuth && client_->congested()) client_->stop_reading();
  }
}

void Session::on_stream_end(core::Stream& stream, core::StreamEnd why) {
  if (state_ == State::Closing) return;
  if (&stream == client_.get()) {
    if (state_ == State::Relay && why == core::StreamEnd::PeerClosed && backend_) {
      // A half-close: the pod may still answer what came before (LOGOUT).
      // Pass the end on and keep relaying until the pod closes too.
      client_finished_ = true;
      backend_->shutdown_write();
      return;
    }
    if (client_gone_) return;  // left already; the login runs on
    CloseReason reason =
        why == core::StreamEnd::TlsFailed ? CloseReason::TlsFailed : CloseReason::ClientClosed;
    if (login_under_way() && guard_ticket_) {
      abandon_login(reason, false);
      return;
    }
    finish(reason);
    return;
  }
  if (&stream != backend_.get()) return;
  if (state_ == State::BackendLogin) {
    spdlog::warn("session {}: pod server {} closed during login ({}{})", record_.session,
                 record_.backend, core::to_string(why),
                 why == core::StreamEnd::TlsFailed ? ": " + backend_->tls_error() : "");
    if (backend_greeting_ns_ == 0) {
      // It never greeted: as good as refused.
      worker_.login_metrics->backend_connect_failed(route_->pod);
      connect_next_server();
      return;
    }
    worker_.login_metrics->backend_login_fault(route_->pod);
    if (!backend_login_->credentials_sent()) {
      server_failed_before_credentials(LoginOutcome::PodFault);
      return;
    }
    login_failed(LoginOutcome::PodFault);
  } else if (state_ == State::Relay) {
    if (client_finished_) {
      finish(CloseReason::ClientClosed);
      return;
    }
    if (why != core::StreamEnd::PeerClosed) send(pod_lost_goodbye());
    finish(CloseReason::BackendClosed);
  }
}

void Session::on_stream_closed(core::Stream& stream) {
  if (&stream == client_.get()) {
    client_.reset();
  } else if (&stream == backend_.get()) {
    backend_.reset();
  } else {
    std::erase_if(closing_backends_, [&](const auto& retired) { return retired.get() == &stream; });
  }
  maybe_free();
}

void Session::on_stream_tls_ready(core::Stream& stream) {
  if (&stream == backend_.get()) {
    record_.backend_tls = backend_->tls_version();
    return;
  }
  if (&stream != client_.get()) return;
  record_.tls = client_->tls_version();
  record_.phases.tls = ms_since(tls_start_ns_);
  worker_.login_metrics->tls_handshake_done(listener_.protocol, *record_.phases.tls);
  if (state_ == State::TlsHandshake) {
    client_ready();
  } else if (state_ == State::StartTlsHandshake) {
    state_ = State::PreAuth;
    credentials_start_ns_ = core::now_ns();
    on_tls_established();
  }
}

void Session::on_stream_drained(core::Stream& stream) {
  if (state_ == State::PreAuth && &stream == client_.get()) {
    resume_client_input();
    return;
  }
  if (state_ != State::Relay) return;
  // The congested side caught up: resume reading the side that feeds it.
  if (&stream == client_.get() && backend_) backend_->start_reading();
  if (&stream == backend_.get() && client_) client_->start_reading();
}

// ---------------------------------------------------------------------------
// The login hop

void Session::begin_attempt(std::string user) {
  credentials_done_ns_ = core::now_ns();
  record_.phases.credentials = ms_since(credentials_start_ns_);
  record_.user = std::move(user);
  record_.outcome.reset();  // until this attempt has one
  record_.pod.clear();
  record_.backend.clear();
  record_.directory.clear();
  record_.lockout.clear();
  guard_ticket_.reset();
  // A new attempt: the phases of an earlier refused one no longer apply.
  record_.phases.directory.reset();
  record_.phases.backend_connect.reset();
  record_.phases.backend_auth.reset();
  record_.phases.total.reset();
}

void Session::refuse_credentials(std::string user) {
  begin_attempt(std::move(user));
  pause_client_input();
  login_failed(LoginOutcome::MalformedCredentials);
}

void Session::start_login(Credentials credentials) {
  begin_attempt(credentials.authcid);
  // Hold further client input until the pod has answered: commands
  // pipelined behind the login belong to whoever the login makes us.
  pause_client_input();
  if (credentials.authcid.empty() || credentials.secret.empty()) {
    login_failed(LoginOutcome::MalformedCredentials);
    return;
  }
  if (!guard_admits(credentials)) return;

  state_ = State::DirectoryLookup;
  lookup_start_ns_ = core::now_ns();
  core::SocketAddress peer = client_->peer();
  core::SocketAddress local = client_->local();
  login_ = std::make_unique<LoginUnderWay>(LoginUnderWay{
      std::move(credentials),
      ClientIdentity{peer.ip(), peer.port(), local.ip(), local.port(), record_.session}});
  LookupRequest request;
  request.user = login_->credentials.authcid;
  if (worker_.directory->wants_password()) request.password = &login_->credentials.secret;
  request.protocol = listener_.protocol;
  request.client_ip = login_->client.ip;
  request.client_tls = client_->tls_active();
  request.attempt = ++login_attempts_;
  worker_.directory->lookup(request,
                            [this, alive = std::weak_ptr<char>(alive_)](LookupResult result) {
                              if (alive.expired() || state_ != State::DirectoryLookup) return;
                              on_lookup_done(std::move(result));
                            });
}

bool Session::guard_admits(const Credentials& credentials) {
  if (!worker_.protection || client_address_key_.empty()) return true;
  const ProtectionConfig& config = worker_.config->protection;
  LoginAttempt attempt = worker_.protection->attempt(credentials.authcid, credentials.secret.view(),
                                                     client_address_key_);
  auto admission = worker_.protection->admit(attempt, config);
  if (auto* refusal = std::get_if<LoginGuard::Refusal>(&admission)) {
    // Answered like a wrong password, and after the same wait: the
    // attacker learns nothing, and the pod never sees the guess.
    record_.lockout = to_string(refusal->kind);
    tarpit_ms_ = refusal->tarpit_ms;
    login_failed(LoginOutcome::LockedOut);
    return false;
  }
  guard_ticket_.emplace(std::move(std::get<LoginProtection::Ticket>(admission)));
  return true;
}

bool Session::login_under_way() const {
  return state_ == State::DirectoryLookup || state_ == State::BackendConnect ||
         state_ == State::BackendLogin;
}

void Session::abandon_login(CloseReason reason, bool flush) {
  // Nobody will read the answer: the client's side goes (at once, or after
  // a goodbye), and the login goes on to its verdict so that the guard
  // counts the guess.
  client_gone_ = reason;
  take_byte_counts();
  if (flush) {
    client_->close_after_flush();
  } else {
    client_->close();
  }
  // The directory clients have deadlines of their own; this only bounds a
  // lookup that nobody waits for any more (pod logins have their timers).
  if (state_ == State::DirectoryLookup) {
    timer_.start(seconds_ms(worker_.config->timeouts.backend_auth_seconds));
  }
}

void Session::on_lookup_done(LookupResult result) {
  record_.phases.directory = ms_since(lookup_start_ns_);
  record_.directory = result.source;
  worker_.login_metrics->directory_answered(result.source, *record_.phases.directory);
  if (!result.route) {
    if (result.failure == LoginOutcome::DirectoryRefused) {
      refusal_wait_ms_ = result.wait_seconds * 1000;
      refusal_smtp_code_ = result.smtp_error_code;
    } else if (result.failure == LoginOutcome::DirectoryUnavailable) {
      spdlog::warn("session {}: no directory answer for the user", record_.session);
    }
    login_failed(result.failure);
    return;
  }
  route_ = std::move(result.route);
  record_.pod = route_->pod;
  if (!route_->basic_auth && sasl::carries_password(login_->credentials.mechanism)) {
    // A tenant policy: the password is refused unchecked, the pod never sees it.
    login_failed(LoginOutcome::BasicAuthOff);
    return;
  }
  if (route_->servers.empty()) {
    spdlog::warn("session {}: pod {} has no {} server available", record_.session, route_->pod,
                 record_.protocol);
    login_failed(LoginOutcome::NoServer);
    return;
  }
  // auth_http may name other credentials for the pod (Auth-User, Auth-Pass).
  if (result.backend_user) login_->credentials.authcid = std::move(*result.backend_user);
  if (result.backend_password) login_->credentials.secret = std::move(*result.backend_password);
  server_index_ = 0;
  server_failure_ = LoginOutcome::PodUnreachable;
  connect_start_ns_ = core::now_ns();
  connect_next_server();
}

void Session::connect_next_server() {
  backend_login_.reset();
  retire_backend();
  if (server_index_ >= route_->servers.size()) {
    login_failed(server_failure_);
    return;
  }
  const directory::Server& server = route_->servers[server_index_++];
  record_.backend = server.text;
  record_.backend_tls = "none";
  state_ = State::BackendConnect;
  backend_ = std::make_unique<core::Stream>(worker_.loop, *this);
  timer_.start(seconds_ms(worker_.config->timeouts.backend_connect_seconds));
  if (int status = backend_->connect(server.address); status != 0) {
    on_stream_connected(*backend_, status);
  }
}

void Session::server_failed_before_credentials(LoginOutcome why) {
  // Nothing was said about the credentials: the pod's next server may do
  // better (and if none is left, the client hears `why`).
  server_failure_ = why;
  connect_next_server();
}

void Session::on_stream_connected(core::Stream& stream, int status) {
  if (&stream != backend_.get() || state_ != State::BackendConnect) return;
  if (status != 0) {
    spdlog::warn("session {}: cannot connect to pod {} server {}: {}", record_.session, record_.pod,
                 record_.backend, uv_strerror(status));
    worker_.login_metrics->backend_connect_failed(route_->pod);
    connect_next_server();
    return;
  }
  // The connect timer keeps running until the greeting: a pod that accepts
  // and never greets (or never finishes its TLS handshake) is as unusable
  // as one that refuses.
  state_ = State::BackendLogin;
  backend_greeting_ns_ = 0;
  backend_login_ = make_backend_login(login_->credentials, login_->client);
  if (route_->backend_tls == "implicit") {
    std::string ip = worker_.backend_tls_verifies ? backend_->peer().ip() : std::string();
    if (!backend_->start_tls_client(worker_.backend_tls, "", ip)) {
      spdlog::warn("session {}: cannot start TLS to pod {} server {}", record_.session, record_.pod,
                   record_.backend);
      worker_.login_metrics->backend_connect_failed(route_->pod);
      connect_next_server();
      return;
    }
  }
  backend_->start_reading();
}

void Session::on_backend_data(std::string_view bytes) {
  if (backend_greeting_ns_ == 0) {
    backend_greeting_ns_ = core::now_ns();
    record_.phases.backend_connect = ms_since(connect_start_ns_);
    timer_.start(seconds_ms(worker_.config->timeouts.backend_auth_seconds));
  }
  std::optional<LoginOutcome> verdict = backend_login_->feed(bytes);
  if (Secret output = backend_login_->take_output(); !output.empty()) {
    backend_->write(output.view());
  }
  if (!verdict) return;
  if (*verdict == LoginOutcome::PodFault) {
    spdlog::warn("session {}: pod {} server {}: {}", record_.session, record_.pod, record_.backend,
                 backend_login_->problem());
    worker_.login_metrics->backend_login_fault(route_->pod);
    if (!backend_login_->credentials_sent()) {
      server_failed_before_credentials(LoginOutcome::PodFault);
      return;
    }
  }
  record_.phases.backend_auth = ms_since(backend_greeting_ns_);
  if (*verdict != LoginOutcome::LoggedIn) {
    login_failed(*verdict);
    return;
  }
  if (!route_->protocol_enabled) {
    // Checked only now, so that a wrong password still looks like one.
    backend_->write(backend_login_->logout_command());
    login_failed(LoginOutcome::Disabled);
    return;
  }
  login_succeeded();
}

void Session::conclude_attempt(LoginOutcome outcome) {
  if (guard_ticket_) {
    // Only a verdict on the credentials counts: the directory or the pod
    // judged them. A pod that is down says nothing about the guess.
    tarpit_ms_ = guard_ticket_->conclude(outcome, worker_.config->protection);
    guard_ticket_.reset();
  }
  login_.reset();
}

void Session::login_failed(LoginOutcome outcome) {
  record_.outcome = outcome;
  record_.phases.total = ms_since(accepted_ns_);
  worker_.login_metrics->login_answered(listener_.protocol, record_);
  backend_login_.reset();
  retire_backend();
  pending_failure_ = outcome;
  conclude_attempt(outcome);
  if (client_gone_) {
    finish(*client_gone_);  // counted; nobody is left to answer
    return;
  }
  // Every refusal of the credentials is answered no sooner than
  // auth_failure_delay_ms after they arrived, whether the pod said no, the
  // user is unknown, a lockout refused them, or they were malformed: the
  // answer's timing must not tell which, and guessing gets slow.
  std::uint64_t delay_ms =
      std::max<std::uint64_t>(worker_.config->timeouts.auth_failure_delay_ms, refusal_wait_ms_) +
      tarpit_ms_;
  refusal_wait_ms_ = 0;
  tarpit_ms_ = 0;
  std::uint64_t delay_ns = delay_ms * kNsPerMs;
  std::uint64_t elapsed_ns = core::now_ns() - credentials_done_ns_;
  if (answered_as_auth_failure(outcome) && elapsed_ns < delay_ns) {
    state_ = State::FailureDelay;
    timer_.start((delay_ns - elapsed_ns) / kNsPerMs + 1);
    return;
  }
  send_failure_answer();
}

void Session::send_failure_answer() {
  state_ = State::PreAuth;
  answer_login_failed(pending_failure_);
  refusal_smtp_code_.clear();
  if (worker_.stopping) {
    // A login that was under way when the drain began got its answer; no
    // new one starts.
    send(shutdown_goodbye());
    finish(CloseReason::Shutdown);
    return;
  }
  // Refusals of the credentials count; a pod that is down or a busy
  // mailbox says nothing of the client.
  if (counts_as_refusal(pending_failure_) &&
      ++refused_logins_ >= worker_.config->limits.max_auth_attempts) {
    // Each refusal costs a directory lookup and a pod login; a client that
    // keeps guessing must reconnect (and meet the connection limits).
    send(too_many_auth_attempts_goodbye());
    if (worker_.connection_limits) worker_.connection_limits->over_auth_attempts.add();
    finish(CloseReason::TooManyAuthAttempts);
    return;
  }
  credentials_start_ns_ = core::now_ns();
  arm_preauth_deadline();
  resume_preauth();
}

void Session::login_succeeded() {
  record_.outcome = LoginOutcome::LoggedIn;
  if (client_gone_) {
    // The guess was right, and nobody is left to use the session.
    backend_->write(backend_login_->logout_command());
    backend_login_.reset();  // before the credentials it refers to
    conclude_attempt(LoginOutcome::LoggedIn);
    record_.phases.total = ms_since(accepted_ns_);
    worker_.login_metrics->login_answered(listener_.protocol, record_);
    finish(*client_gone_);
    return;
  }
  core::Stream::Batch batch(*client_);  // the OK and the pod's first bytes: one send
  state_ = State::Relay;
  answer_logged_in(*backend_login_);
  if (std::string from_pod = backend_login_->take_leftover(); !from_pod.empty()) send(from_pod);
  backend_login_.reset();  // before the credentials it refers to
  conclude_attempt(LoginOutcome::LoggedIn);
  record_.phases.total = ms_since(accepted_ns_);
  worker_.login_metrics->login_answered(listener_.protocol, record_);
  if (std::string pipelined = take_pipelined_input(); !pipelined.empty()) {
    backend_->write(pipelined);
  }
  timer_.start(seconds_ms(worker_.config->timeouts.idle_seconds));
  client_->start_reading();
}

void Session::retire_backend() {
  if (!backend_) return;
  backend_->close_after_flush();
  closing_backends_.push_back(std::move(backend_));
}

// ---------------------------------------------------------------------------
// After login: bytes both ways, with backpressure.

void Session::relay(core::Stream& from, core::Stream& to, std::string_view bytes) {
  if (&to == client_.get()) note_client_output(bytes);
  to.write(bytes);
  if (to.congested()) from.stop_reading();
  timer_.start(seconds_ms(worker_.config->timeouts.idle_seconds));
}

// ---------------------------------------------------------------------------
// Time-outs and the end

void Session::on_timer() {
  switch (state_) {
    case State::TlsHandshake:
    case State::StartTlsHandshake:
      finish(CloseReason::PreauthTimeout);
      break;
    case State::PreAuth:
      send(preauth_timeout_goodbye());
      finish(CloseReason::PreauthTimeout);
      break;
    case State::BackendConnect:
      spdlog::warn("session {}: connecting to pod {} server {} timed out", record_.session,
                   record_.pod, record_.backend);
      worker_.login_metrics->backend_connect_failed(route_->pod);
      connect_next_server();
      break;
    case State::BackendLogin:
      if (backend_greeting_ns_ == 0) {
        spdlog::warn("session {}: pod {} server {} accepted but did not greet in time",
                     record_.session, record_.pod, record_.backend);
        worker_.login_metrics->backend_connect_failed(route_->pod);
        connect_next_server();
        break;
      }
      spdlog::warn("session {}: pod {} server {} did not finish the login in time", record_.session,
                   record_.pod, record_.backend);
      worker_.login_metrics->backend_login_fault(route_->pod);
      if (!backend_login_->credentials_sent()) {
        server_failed_before_credentials(LoginOutcome::PodTimeout);
        break;
      }
      login_failed(LoginOutcome::PodTimeout);
      break;
    case State::DirectoryLookup:
      if (client_gone_) {  // the bound abandon_login() set
        finish(*client_gone_);
        break;
      }
      // The pre-auth deadline, which may run out while several directory
      // URLs are tried one after another. The client gets its goodbye; a
      // lookup that may be checking the password (auth_http) still counts.
      send(preauth_timeout_goodbye());
      if (guard_ticket_) {
        abandon_login(CloseReason::PreauthTimeout, true);
        break;
      }
      finish(CloseReason::PreauthTimeout);
      break;
    case State::FailureDelay:
      send_failure_answer();
      break;
    case State::Relay:
      finish(CloseReason::IdleTimeout);
      break;
    case State::Closing:
      // The grace period for flushing is over.
      if (client_) client_->close();
      if (backend_) backend_->close();
      for (auto& retired : closing_backends_) retired->close();
      break;
  }
}

void Session::shut_down() {
  if (state_ == State::Closing) return;
  if (state_ == State::PreAuth) send(shutdown_goodbye());
  finish(CloseReason::Shutdown);
}

void Session::drain() {
  switch (state_) {
    case State::TlsHandshake:
    case State::PreAuth:
    case State::StartTlsHandshake:
      // Not logged in, no login under way: nothing to wait for.
      shut_down();
      return;
    case State::DirectoryLookup:
    case State::BackendConnect:
    case State::BackendLogin:
    case State::FailureDelay:
      // A login under way gets its answer: a refusal is followed by the
      // goodbye (send_failure_answer), a success is drained like the rest.
    case State::Relay:
      // The client ends it (LOGOUT, QUIT) or the end of the drain window does.
    case State::Closing:
      return;
  }
}

void Session::kick() {
  if (state_ == State::Closing) return;
  if (state_ == State::Relay) {
    // Only between the pod's replies: a goodbye inside a literal or a
    // message would corrupt what the client is reading.
    if (client_output_at_boundary()) send(kicked_goodbye());
    finish(CloseReason::Kicked);
    return;
  }
  if (state_ == State::PreAuth) send(shutdown_goodbye());
  finish(CloseReason::Kicked);
}

SessionSummary Session::summary() const {
  SessionSummary summary;
  summary.id = record_.session;
  summary.protocol = record_.protocol;
  summary.user = state_ == State::Relay ? record_.user : std::string();
  summary.pod = state_ == State::Relay ? record_.pod : std::string();
  summary.backend = state_ == State::Relay ? record_.backend : std::string();
  summary.client = record_.client;
  summary.since_unix_ms = accepted_unix_ms_;
  summary.logged_in = state_ == State::Relay;
  if (client_) {
    summary.bytes_from_client = client_->bytes_read();
    summary.bytes_to_client = client_->bytes_written();
  }
  return summary;
}

const std::string& Session::user() const {
  return record_.user;
}

void Session::take_byte_counts() {
  if (!client_) return;
  record_.bytes_from_client = client_->bytes_read();
  record_.bytes_to_client = client_->bytes_written();
}

void Session::finish(CloseReason reason) {
  if (state_ == State::Closing) return;
  state_ = State::Closing;
  record_.close_reason = reason;
  take_byte_counts();
  record_.duration_ms = ms_since(accepted_ns_);
  // A login cut short (shutdown, kick) ends without a verdict: the guard
  // forgets it, and the password is wiped (after the dialogue that refers
  // to it).
  backend_login_.reset();
  guard_ticket_.reset();
  login_.reset();
  // The client may connect again at once: a connection that is closing
  // (flushing its last answer) no longer counts against its address.
  address_slot_.reset();
  // Counted before it is logged: whoever reads the line finds it counted.
  worker_.login_metrics->session_closed(listener_.protocol, record_);
  worker_.access_log->write(record_);

  if (client_) client_->close_after_flush();
  retire_backend();
  timer_.start(kCloseGraceMs);
  maybe_free();
}

void Session::maybe_free() {
  if (state_ != State::Closing || client_ || backend_ || !closing_backends_.empty()) return;
  if (!timer_closed_) {
    timer_.close();
    return;
  }
  delete this;
}

}  // namespace podgate::proxy
