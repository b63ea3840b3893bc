// One IMAP client, from accept to close, as an explicit state machine:
//
//   TlsHandshake ─┐                       (implicit TLS listeners)
//                 v
//   PreAuth ──STARTTLS──> StartTlsHandshake ──> PreAuth
//   PreAuth ──AUTHENTICATE──> SaslExchange ──> PreAuth | BackendConnect
//   PreAuth ──LOGIN──> BackendConnect ──> BackendLogin ──> Relay
//                                    └── failure ──> FailureDelay ──> PreAuth (retry)
//   any state ──> Closing (one close reason, one access-log line)
//
// The session owns its client stream, at most one live backend stream, and
// one timer whose meaning follows the state (pre-auth deadline, backend
// connect/login timeout, failure delay, post-login idle timeout, close grace).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend-directory/directory.h"
#include "core/stream.h"
#include "core/timer.h"
#include "proxy/access_log.h"
#include "proxy/config.h"
#include "proxy/protocol/imap/imap_parser.h"
#include "proxy/session/imap_backend_login.h"
#include "proxy/worker.h"

namespace podgate::proxy {

class ImapSession final : public core::StreamHandler, public LiveSession {
 public:
  // Accepts one pending connection from `server` and runs it to completion;
  // the session frees itself.
  static void accept(Worker& worker, uv_stream_t* server, const ListenerConfig& listener);

  void shut_down() override;

 private:
  enum class State {
    TlsHandshake,
    PreAuth,
    StartTlsHandshake,
    SaslExchange,
    BackendConnect,
    BackendLogin,
    FailureDelay,  // a refused login, answered after the failure delay
    Relay,
    Closing,
  };
  enum class SaslStep { PlainResponse, LoginUser, LoginPassword };

  ImapSession(Worker& worker, const ListenerConfig& listener);
  ~ImapSession() override;

  // core::StreamHandler
  void on_stream_data(core::Stream& stream, std::string_view bytes) override;
  void on_stream_end(core::Stream& stream, core::StreamEnd why) override;
  void on_stream_closed(core::Stream& stream) override;
  void on_stream_connected(core::Stream& stream, int status) override;
  void on_stream_tls_ready(core::Stream& stream) override;
  void on_stream_drained(core::Stream& stream) override;

  // Client side, before login.
  void greet();
  void process_client_input();
  void handle_command(const imap::Command& command);
  void handle_parse_error(const imap::Error& error);
  void handle_sasl_line(const std::string& line);
  void start_authenticate(const imap::Command& command);
  void start_tls(const std::string& tag);
  void reject_invalid(const std::string& tag, std::string_view answer);
  std::string capabilities() const;
  void send(std::string_view text);

  // The login hop.
  void start_login(std::string user, std::string password);
  void connect_next_server();
  void on_backend_data(std::string_view bytes);
  void login_succeeded();
  void login_failed(const char* result, std::string_view answer);
  void send_failure_answer();
  void retire_backend();

  // After login.
  void relay(core::Stream& from, core::Stream& to, std::string_view bytes);

  void on_timer();
  void arm_preauth_deadline();
  void finish(const char* close_reason);
  void maybe_free();
  double ms_since(std::uint64_t start_ns) const;

  Worker& worker_;
  const ListenerConfig& listener_;
  State state_ = State::PreAuth;
  std::unique_ptr<core::Stream> client_;
  std::unique_ptr<core::Stream> backend_;
  std::vector<std::unique_ptr<core::Stream>> closing_backends_;
  core::Timer timer_;
  imap::Parser parser_;

  unsigned invalid_commands_ = 0;
  bool processing_input_ = false;  // inside process_client_input()
  bool client_finished_ = false;   // the client half-closed during the relay
  std::string login_tag_;
  SaslStep sasl_step_ = SaslStep::PlainResponse;
  std::string sasl_user_;
  std::optional<directory::Route> route_;
  std::size_t server_index_ = 0;
  std::unique_ptr<ImapBackendLogin> backend_login_;
  std::string failure_answer_;  // held during FailureDelay

  SessionRecord record_;
  std::uint64_t accepted_ns_ = 0;
  std::uint64_t preauth_deadline_ns_ = 0;
  std::uint64_t phase_start_ns_ = 0;        // start of the phase being timed
  std::uint64_t credentials_start_ns_ = 0;  // when the client could start to log in
  std::uint64_t backend_greeting_ns_ = 0;
  std::uint64_t credentials_done_ns_ = 0;
  bool timer_closed_ = false;
};

}  // namespace podgate::proxy
