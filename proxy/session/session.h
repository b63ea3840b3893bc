// One client connection, from accept to close, for any protocol. This class
// holds what every front door shares: the client and pod streams, the one
// timer, the login hop (directory lookup, connect with failover, the pod's
// login dialogue, the failure delay), the relay with backpressure, and the
// access-log record. A protocol subclass (ImapSession, ...) parses what the
// client says before login and words every answer.
//
//   TlsHandshake ─┐                        (implicit TLS listeners)
//                 v
//   PreAuth ──STARTTLS──> StartTlsHandshake ──> PreAuth
//   PreAuth ──credentials──> DirectoryLookup ──> BackendConnect ──> BackendLogin ──> Relay
//                                   └──────── refused ────────┴──> FailureDelay ──> PreAuth
//   any state ──> Closing (one close reason, one access-log line)
//
// Every login ends in one LoginOutcome (login_outcome.h); it decides the
// answer, the failure delay, and what the brute-force guard and
// limits.max_auth_attempts count.
//
// A client that leaves (closes, resets), or whose pre-auth deadline runs out
// during the directory lookup, while the guard let its login through
// (DirectoryLookup, BackendConnect, BackendLogin), still made a guess the
// directory (auth_http) or the pod may be checking: its side is closed at
// once (after the goodbye, for the deadline), and the login runs on to its
// verdict (bounded by the directory's deadline, backend_connect_seconds and
// backend_auth_seconds), which reaches the guard before the session closes.
// Giving up on slow (failed) logins does not dodge the count.
//
// When podgate stops, drain() closes a session with no login under way at
// once ("shutdown"), lets a login under way get its answer (a refusal is
// followed by the goodbye) and leaves Relay to end by itself; shut_down()
// closes any.
//
// Limits: a connection over limits.max_connections_per_address gets its
// "too many connections" answer where the greeting would go, then Closing;
// the max_auth_attempts-th refusal is followed by a goodbye, then Closing.
//
// The timer's meaning follows the state: pre-auth deadline, pod connect and
// greeting, pod login answer, failure delay, post-login idle, close grace.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend-directory/directory.h"
#include "core/stream.h"
#include "core/timer.h"
#include "proxy/access_log.h"
#include "proxy/close_reason.h"
#include "proxy/config.h"
#include "proxy/credentials.h"
#include "proxy/directory/directory_client.h"
#include "proxy/login_outcome.h"
#include "proxy/protection/address_connection_limiter.h"
#include "proxy/protection/login_protection.h"
#include "proxy/session/backend_login.h"
#include "proxy/worker.h"

namespace podgate::proxy {

class Session : public core::StreamHandler, public LiveSession {
 public:
  void shut_down() override;
  void drain() override;
  void kick() override;
  SessionSummary summary() const override;
  const std::string& user() const override;

 protected:
  Session(Worker& worker, const ListenerConfig& listener);
  ~Session() override;

  // Accepts a pending connection and starts the conversation; on failure the
  // session finishes (and frees itself) at once.
  void start(uv_stream_t* server);

  // --- what a protocol says and hears ------------------------------------
  // The client can talk: send the greeting.
  virtual void greet() = 0;
  // Bytes from the client before login (state PreAuth).
  virtual void on_client_input(std::string_view bytes) = 0;
  // A STARTTLS handshake finished (SMTP forgets the EHLO, RFC 3207).
  virtual void on_tls_established() {}
  // The pod dialogue for this protocol, for one server of the pod; the
  // credentials outlive it.
  virtual std::unique_ptr<BackendLogin> make_backend_login(const Credentials& credentials,
                                                           ClientIdentity identity) = 0;
  // Words for a refused login; the session is back in PreAuth afterwards.
  virtual void answer_login_failed(LoginOutcome outcome) = 0;
  // Words for a successful login (before the pod's own first bytes).
  virtual void answer_logged_in(BackendLogin& login) = 0;
  // Client bytes already read behind the credentials: the pod's to answer.
  virtual std::string take_pipelined_input() = 0;
  // The failure answer went out: go on with input the client pipelined.
  virtual void resume_preauth() = 0;
  // Goodbyes, written just before the session finishes (empty: none).
  virtual std::string preauth_timeout_goodbye() const = 0;
  virtual std::string shutdown_goodbye() const = 0;
  virtual std::string pod_lost_goodbye() const = 0;
  // Said when an administrator closes a logged-in session ("": close only).
  virtual std::string kicked_goodbye() const = 0;
  // Instead of the greeting, over limits.max_connections_per_address.
  virtual std::string too_many_connections_goodbye() const = 0;
  // After the failure answer that used up limits.max_auth_attempts.
  virtual std::string too_many_auth_attempts_goodbye() const = 0;
  // Everything written to the client passes here, so that a protocol knows
  // whether a goodbye now would land between two replies or inside one.
  virtual void note_client_output(std::string_view bytes) {
    if (!bytes.empty()) last_to_client_ = bytes.back();
  }
  virtual bool client_output_at_boundary() const { return last_to_client_ == '\n'; }

  // --- what a protocol may do ----------------------------------------------
  void send(std::string_view text);
  bool tls_active() const;
  // STARTTLS accepted (its answer already sent): the client now speaks TLS.
  void start_tls();
  // Credentials are complete: look the user up and log in at the pod. The
  // outcome arrives as answer_logged_in() or answer_login_failed().
  void start_login(Credentials credentials);
  // Refuses credentials without asking the pod (MalformedCredentials): a
  // PLAIN message that does not parse, a foreign authzid. `user`: the login
  // name, if the message had one.
  void refuse_credentials(std::string user);
  void pause_client_input();
  void resume_client_input();
  bool in_preauth() const { return state_ == State::PreAuth; }
  // The user's directory entry, once the lookup found it.
  const directory::Route& route() const { return *route_; }
  // An auth_http service's Auth-Error-Code for the last refusal ("" if none).
  const std::string& refusal_smtp_code() const { return refusal_smtp_code_; }
  void finish(CloseReason reason);

  Worker& worker_;
  const ListenerConfig& listener_;

 private:
  enum class State {
    TlsHandshake,
    PreAuth,
    StartTlsHandshake,
    DirectoryLookup,
    BackendConnect,
    BackendLogin,
    FailureDelay,
    Relay,
    Closing,
  };

  // core::StreamHandler
  void on_stream_data(core::Stream& stream, std::string_view bytes) override;
  void on_stream_end(core::Stream& stream, core::StreamEnd why) override;
  void on_stream_closed(core::Stream& stream) override;
  void on_stream_connected(core::Stream& stream, int status) override;
  void on_stream_tls_ready(core::Stream& stream) override;
  void on_stream_drained(core::Stream& stream) override;

  // Counts the connection under limits.max_connections_per_address, or
  // marks it to be refused once the client can read the answer.
  void admit_client_address();
  void client_ready();
  // Credentials arrived: the phases and route of an earlier attempt go.
  void begin_attempt(std::string user);
  // The guard's verdict before the directory is asked: false if it refuses
  // these credentials (the refusal is under way).
  bool guard_admits(const Credentials& credentials);
  void on_lookup_done(LookupResult result);
  // The login is under way and someone (a pod, the directory) has the guess.
  bool login_under_way() const;
  // The client left (or timed out, `flush`: after its goodbye) while its
  // login was under way: see the header comment.
  void abandon_login(CloseReason reason, bool flush);
  void connect_next_server();
  void on_backend_data(std::string_view bytes);
  // The pod's server failed us before it had the credentials: the next one.
  void server_failed_before_credentials(LoginOutcome why);
  void login_failed(LoginOutcome outcome);
  void send_failure_answer();
  void login_succeeded();
  // The guard hears how the login it let through ended; the credentials go.
  void conclude_attempt(LoginOutcome outcome);
  void retire_backend();
  void relay(core::Stream& from, core::Stream& to, std::string_view bytes);
  void on_timer();
  void arm_preauth_deadline();
  void maybe_free();
  double ms_since(std::uint64_t start_ns) const;
  void take_byte_counts();

  State state_ = State::PreAuth;
  std::unique_ptr<core::Stream> client_;
  std::unique_ptr<core::Stream> backend_;
  std::vector<std::unique_ptr<core::Stream>> closing_backends_;
  core::Timer timer_;
  bool timer_closed_ = false;

  // What the login under way needs until its verdict, then freed (and the
  // password wiped): a logged-in session holds none of it.
  struct LoginUnderWay {
    Credentials credentials;
    ClientIdentity client;  // taken while the client is there: it may leave
  };
  std::unique_ptr<LoginUnderWay> login_;
  std::optional<directory::Route> route_;
  std::size_t server_index_ = 0;
  // Why the servers tried so far failed: the answer if none is left.
  LoginOutcome server_failure_ = LoginOutcome::PodUnreachable;
  std::unique_ptr<BackendLogin> backend_login_;
  LoginOutcome pending_failure_ = LoginOutcome::WrongPassword;  // during FailureDelay
  std::uint32_t refusal_wait_ms_ = 0;  // auth_http's Auth-Wait for this refusal
  std::string refusal_smtp_code_;
  unsigned login_attempts_ = 0;
  unsigned refused_logins_ = 0;  // refusals for the credentials, for limits.max_auth_attempts
  AddressConnectionLimiter::Slot address_slot_;  // held until finish()
  bool over_address_limit_ = false;
  // The attempt the brute-force guard let through, until it concludes.
  std::optional<LoginProtection::Ticket> guard_ticket_;
  std::uint32_t tarpit_ms_ = 0;     // the guard's extra wait for this refusal
  std::string client_address_key_;  // address_key() of the client
  // Set when the client left during a login that runs on to its verdict.
  std::optional<CloseReason> client_gone_;
  // Directory answers may arrive after the session is gone: they hold a
  // weak reference to this and do nothing once it expired.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
  std::int64_t accepted_unix_ms_ = 0;
  std::uint64_t lookup_start_ns_ = 0;
  char last_to_client_ = '\n';    // the last byte written to the client
  bool client_finished_ = false;  // the client half-closed during the relay

 protected:
  SessionRecord record_;

 private:
  std::uint64_t accepted_ns_ = 0;
  std::uint64_t preauth_deadline_ns_ = 0;
  std::uint64_t tls_start_ns_ = 0;
  std::uint64_t connect_start_ns_ = 0;
  std::uint64_t credentials_start_ns_ = 0;  // when the client could start to log in
  std::uint64_t credentials_done_ns_ = 0;
  std::uint64_t backend_greeting_ns_ = 0;
};

}  // namespace podgate::proxy
