// The SMTP submission front door (RFC 6409): what a client may say before AUTH
// (EHLO, HELO, STARTTLS, AUTH, RSET, NOOP, QUIT), the answers of DESIGN.md's
// error table with enhanced status codes, and the SMTP login hop. After
// "235" the session is the pod's: pipelined MAIL/RCPT/DATA go straight on.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "proxy/protocol/smtp/smtp_parser.h"
#include "proxy/session/sasl_exchange.h"
#include "proxy/session/session.h"

namespace podgate::proxy {

class SmtpSession final : public Session {
 public:
  static void accept(Worker& worker, uv_stream_t* server, const ListenerConfig& listener);

 private:
  SmtpSession(Worker& worker, const ListenerConfig& listener);

  // Session
  void greet() override;
  void on_client_input(std::string_view bytes) override;
  void on_tls_established() override;
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

  void process_client_input();
  void handle_command(const smtp::Command& command);
  void on_sasl_step(SaslExchange::Step step);
  void start_tls_command();
  void reject_invalid(std::string_view answer);
  std::string ehlo_answer() const;

  smtp::Parser parser_;
  SaslExchange sasl_;
  std::string ehlo_name_;  // empty until EHLO/HELO (and again after STARTTLS)
  unsigned invalid_commands_ = 0;
  bool processing_input_ = false;
};

}  // namespace podgate::proxy
