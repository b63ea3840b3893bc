// The POP3 front door: what a client may say before login (RFC 1939 USER/
// PASS, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH), answers with RFC 3206
// response codes, and the POP3 login hop. Connection handling, timing and
// the relay live in Session.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "proxy/protocol/pop3/pop3_parser.h"
#include "proxy/session/sasl_exchange.h"
#include "proxy/session/session.h"

namespace podgate::proxy {

class Pop3Session final : public Session {
 public:
  static void accept(Worker& worker, uv_stream_t* server, const ListenerConfig& listener);

 private:
  Pop3Session(Worker& worker, const ListenerConfig& listener);

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

  void process_client_input();
  void handle_command(pop3::Command& command);
  void on_sasl_step(SaslExchange::Step step);
  void start_tls_command();
  void reject_invalid(std::string_view answer);
  // USER, PASS and AUTH before TLS on a STLS listener are refused here.
  bool require_tls();
  std::string capabilities() const;

  pop3::Parser parser_;
  SaslExchange sasl_;
  std::string user_;  // from USER, waiting for PASS
  unsigned invalid_commands_ = 0;
  bool processing_input_ = false;
};

}  // namespace podgate::proxy
