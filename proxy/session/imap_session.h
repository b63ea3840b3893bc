// The IMAP front door: what a client may say before login (RFC 9051 pre-auth
// commands), the answers of DESIGN.md's error table, and the IMAP login hop.
// Connection handling, timing and the relay live in Session.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "proxy/protocol/imap/imap_parser.h"
#include "proxy/protocol/imap/response_boundary.h"
#include "proxy/session/sasl_exchange.h"
#include "proxy/session/session.h"

namespace podgate::proxy {

class ImapSession final : public Session {
 public:
  // Accepts one pending connection from `server` and runs it to completion;
  // the session frees itself.
  static void accept(Worker& worker, uv_stream_t* server, const ListenerConfig& listener);

 private:
  ImapSession(Worker& worker, const ListenerConfig& listener);

  // Session
  void greet() override;
  void on_client_input(std::string_view bytes) override;
  std::unique_ptr<BackendLogin> make_backend_login(const Credentials& credentials,
                                                   ClientIdentity identity) override;
  void answer_login_failed(LoginOutcome outcome) override;
  void answer_logged_in(BackendLogin& login) override;
  std::string take_pipelined_input() override;
  void resume_preauth() override;
  std::string preauth_timeout_goodbye() const override;
  std::string shutdown_goodbye() const override;
  std::string pod_lost_goodbye() const override;
  std::string kicked_goodbye() const override;
  std::string too_many_connections_goodbye() const override;
  std::string too_many_auth_attempts_goodbye() const override;
  void note_client_output(std::string_view bytes) override { client_output_.feed(bytes); }
  bool client_output_at_boundary() const override { return client_output_.at_line_start(); }

  void process_client_input();
  void handle_command(imap::Command& command);
  void handle_parse_error(const imap::Error& error);
  void on_sasl_step(SaslExchange::Step step);
  void start_authenticate(const imap::Command& command);
  void start_tls_command(const std::string& tag);
  void reject_invalid(const std::string& tag, std::string_view answer);
  std::string capabilities() const;

  imap::Parser parser_;
  unsigned invalid_commands_ = 0;
  bool processing_input_ = false;  // inside process_client_input()
  std::string login_tag_;          // the tag of the LOGIN/AUTHENTICATE in progress
  SaslExchange sasl_;
  // Where the lines of what the client reads end (literals included).
  imap::ResponseBoundary client_output_;
};

}  // namespace podgate::proxy
