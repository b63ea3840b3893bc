// One login on the wire: owns the connection and the login's timeout, walks
// the LoginState sequence (dialogue.h) and times every phase with the
// monotonic clock. The protocol's dialogue decides what is said; this class
// decides when TLS starts, what a dropped connection means, and when the
// login is over.
//
// Lifetime: the observer hears on_login_done() once, after the connection and
// the timer have both closed; it may delete the script then, and not before.
#pragma once

#include <openssl/ssl.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "bench/podgate-bench/dialogue.h"
#include "bench/podgate-bench/login_outcome.h"
#include "bench/podgate-bench/tls_resumption.h"
#include "core/address.h"
#include "core/stream.h"
#include "core/timer.h"

namespace podgate::bench {

// What every login of a run shares; read-only while the run lasts.
struct LoginSetup {
  uv_loop_t* loop = nullptr;
  core::SocketAddress target;
  Protocol protocol = Protocol::Imap;
  AuthMechanism auth = AuthMechanism::Login;
  LoginPlan plan;
  SSL_CTX* tls_context = nullptr;  // null for --tls none
  std::string server_name;
  std::uint64_t timeout_ms = 10000;
};

class LoginScript final : public core::StreamHandler {
 public:
  class Observer {
   public:
    virtual ~Observer() = default;
    // --hold: logged in and idling; the timeout no longer runs.
    virtual void on_login_holding(LoginScript& /*login*/) {}
    // The outcome is final and everything is closed: the script may be deleted.
    virtual void on_login_done(LoginScript& login) = 0;
  };

  // `slot` (null without --resume) offers and keeps TLS sessions.
  LoginScript(const LoginSetup& setup, Observer& observer, const Credential& credential,
              SessionSlot* slot);
  ~LoginScript() override;
  LoginScript(const LoginScript&) = delete;
  LoginScript& operator=(const LoginScript&) = delete;

  // `due_ns`: when an open-loop schedule wanted this login to start (0:
  // now); the wait is the Queue phase and Total counts from it.
  void start(std::uint64_t due_ns = 0);
  // Ends the login now: a held session closes cleanly (TLS close_notify, FIN);
  // one still logging in closes at once and its outcome is not ok.
  void stop();

  LoginState state() const { return state_; }
  const LoginOutcome& outcome() const { return outcome_; }
  SessionSlot* slot() const { return slot_; }

  void on_stream_data(core::Stream& stream, std::string_view plaintext) override;
  void on_stream_end(core::Stream& stream, core::StreamEnd why) override;
  void on_stream_closed(core::Stream& stream) override;
  void on_stream_connected(core::Stream& stream, int status) override;
  void on_stream_tls_ready(core::Stream& stream) override;

 private:
  void enter(LoginState state);
  void start_tls();
  void drive(Progress progress);
  void complete_state();
  void fail(ErrorKind error);
  void finish(bool cleanly);
  void handle_closed();
  static double elapsed_ms(std::uint64_t from_ns, std::uint64_t to_ns);

  const LoginSetup& setup_;
  Observer& observer_;
  SessionSlot* slot_;
  std::unique_ptr<Dialogue> dialogue_;
  std::unique_ptr<core::Stream> stream_;
  core::Timer timer_;
  LoginState state_ = LoginState::Connecting;
  LoginOutcome outcome_;
  std::uint64_t started_ns_ = 0;
  std::uint64_t state_started_ns_ = 0;
  std::uint64_t tls_started_ns_ = 0;
  std::uint64_t command_bytes_before_ = 0;
  int open_handles_ = 1;  // the timer; start() adds the stream
};

}  // namespace podgate::bench
