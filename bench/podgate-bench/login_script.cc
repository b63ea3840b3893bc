#include "bench/podgate-bench/login_script.h"

#include <algorithm>

namespace podgate::bench {

LoginScript::LoginScript(const LoginSetup& setup, Observer& observer, const Credential& credential,
                         SessionSlot* slot)
    : setup_(setup),
      observer_(observer),
      slot_(slot),
      dialogue_(make_dialogue(setup.protocol, setup.auth, setup.plan.command, credential)),
      timer_(
          setup.loop, [this] { fail(ErrorKind::Timeout); }, [this] { handle_closed(); }) {}

LoginScript::~LoginScript() = default;

double LoginScript::elapsed_ms(std::uint64_t from_ns, std::uint64_t to_ns) {
  return static_cast<double>(to_ns - from_ns) / 1e6;
}

void LoginScript::start(std::uint64_t due_ns) {
  started_ns_ = state_started_ns_ = core::now_ns();
  if (due_ns != 0) {
    due_ns = std::min(due_ns, started_ns_);
    outcome_.set(Phase::Queue, elapsed_ms(due_ns, started_ns_));
    started_ns_ = due_ns;
  }
  stream_ = std::make_unique<core::Stream>(setup_.loop, *this);
  ++open_handles_;
  timer_.start(setup_.timeout_ms);
  // A synchronous refusal (no route, no file descriptors) is reported like
  // an asynchronous one: from the close callbacks, never from inside start().
  if (stream_->connect(setup_.target) != 0) fail(ErrorKind::Connect);
}

void LoginScript::stop() {
  if (state_ == LoginState::Holding) {
    finish(true);
  } else if (state_ != LoginState::Done) {
    fail(ErrorKind::Closed);
  }
}

void LoginScript::on_stream_connected(core::Stream&, int status) {
  if (state_ != LoginState::Connecting) return;
  if (status != 0) {
    fail(ErrorKind::Connect);
    return;
  }
  stream_->start_reading();
  complete_state();
}

void LoginScript::on_stream_tls_ready(core::Stream&) {
  if (state_ == LoginState::TlsHandshake) complete_state();
}

void LoginScript::on_stream_data(core::Stream&, std::string_view plaintext) {
  switch (state_) {
    case LoginState::Greeting:
    case LoginState::StartTls:
    case LoginState::Auth:
    case LoginState::Command:
    case LoginState::Logout:
      drive(dialogue_->feed(plaintext));
      return;
    default:
      // Holding: mailbox news while idling is not ours to read.
      return;
  }
}

void LoginScript::on_stream_end(core::Stream&, core::StreamEnd why) {
  switch (state_) {
    case LoginState::Done:
      return;
    case LoginState::Logout:
      // The server may close right after (or instead of) its answer.
      complete_state();
      return;
    case LoginState::Holding:
      finish(false);
      return;
    case LoginState::TlsHandshake:
      fail(ErrorKind::Tls);
      return;
    default:
      fail(why == core::StreamEnd::TlsFailed ? ErrorKind::Tls : ErrorKind::Closed);
      return;
  }
}

void LoginScript::on_stream_closed(core::Stream&) {
  handle_closed();
}

void LoginScript::enter(LoginState state) {
  std::uint64_t now = core::now_ns();
  state_ = state;
  state_started_ns_ = now;
  switch (state) {
    case LoginState::TlsHandshake:
      start_tls();
      return;
    case LoginState::Holding:
      timer_.stop();
      outcome_.set(Phase::Total, elapsed_ms(started_ns_, now));
      outcome_.ok = true;
      observer_.on_login_holding(*this);
      return;
    case LoginState::Done:
      outcome_.ok = true;
      finish(true);
      return;
    case LoginState::Command:
      command_bytes_before_ = stream_->bytes_read();
      outcome_.command_start_ns = now;
      break;
    default:
      break;
  }
  drive(dialogue_->begin(state));
}

void LoginScript::start_tls() {
  // Implicit TLS: the phase starts with the handshake; STARTTLS: it started
  // when the dialogue sent the command.
  if (setup_.plan.tls == TlsMode::Implicit) tls_started_ns_ = state_started_ns_;
  TlsResumption::arm(slot_);
  bool started = stream_->start_tls_client(setup_.tls_context, setup_.server_name);
  TlsResumption::arm(nullptr);
  if (!started) fail(ErrorKind::Tls);
}

void LoginScript::drive(Progress progress) {
  if (!dialogue_->output().empty()) {
    stream_->write(dialogue_->output());
    dialogue_->clear_output();
  }
  switch (progress.kind) {
    case Progress::Kind::NeedMore:
      return;
    case Progress::Kind::TlsClockStarts:
      tls_started_ns_ = core::now_ns();
      return;
    case Progress::Kind::StateDone:
      complete_state();
      return;
    case Progress::Kind::Failed:
      fail(progress.error);
      return;
  }
}

void LoginScript::complete_state() {
  std::uint64_t now = core::now_ns();
  double ms = elapsed_ms(state_started_ns_, now);
  switch (state_) {
    case LoginState::Connecting:
      outcome_.set(Phase::Connect, ms);
      break;
    case LoginState::TlsHandshake:
      outcome_.set(Phase::Tls, elapsed_ms(tls_started_ns_, now));
      outcome_.resumed = slot_ != nullptr && slot_->resumed;
      break;
    case LoginState::Greeting:
      outcome_.set(Phase::Greeting, ms);
      break;
    case LoginState::StartTls:
      // Plaintext sent behind the server's "go ahead" is not to be trusted.
      dialogue_->discard_buffered();
      break;
    case LoginState::Auth:
      outcome_.set(Phase::Auth, ms);
      break;
    case LoginState::Command:
      outcome_.set(Phase::Command, ms);
      outcome_.command_bytes = stream_->bytes_read() - command_bytes_before_;
      outcome_.command_end_ns = now;
      break;
    case LoginState::Logout:
      outcome_.set(Phase::Logout, ms);
      outcome_.set(Phase::Total, elapsed_ms(started_ns_, now));
      break;
    default:
      return;
  }
  enter(next_state(state_, setup_.plan));
}

void LoginScript::fail(ErrorKind error) {
  if (state_ == LoginState::Done) return;
  outcome_.ok = false;
  outcome_.error = error;
  finish(false);
}

void LoginScript::finish(bool cleanly) {
  state_ = LoginState::Done;
  timer_.close();
  if (cleanly) {
    stream_->close_after_flush();
  } else {
    stream_->close();
  }
}

void LoginScript::handle_closed() {
  if (--open_handles_ == 0) observer_.on_login_done(*this);  // may delete this
}

}  // namespace podgate::bench
