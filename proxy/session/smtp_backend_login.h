// The SMTP side of the extra authentication hop, as a pure state machine
// (see BackendLogin):
//
//   pod:     220 ready
//   podgate: EHLO <the client's own EHLO name>
//   podgate: XCLIENT ADDR=<ip> PORT=<port> HELO=<name>   (when offered; the pod
//            then greets again, and gets EHLO again)
//   podgate: AUTH PLAIN <base64>, or AUTH LOGIN answering its 334 prompts (per
//            pod; a pod whose EHLO does not offer that mechanism is at fault)
//   pod:     235 2.7.0 Authentication successful
//
// smtp_auth_verdict() (pod_verdict.h) says what the last reply means.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/protocol/smtp/smtp_reply_reader.h"
#include "proxy/session/backend_login.h"

namespace podgate::proxy {

class SmtpBackendLogin final : public BackendLogin {
 public:
  enum class Mechanism { Plain, Login };
  SmtpBackendLogin(const Credentials& credentials, ClientIdentity client, std::string ehlo_name,
                   Mechanism mechanism);

  std::string take_leftover() override { return replies_.take_rest(); }
  std::string_view logout_command() const override { return "QUIT\r\n"; }

  // The pod's EHLO keywords with their parameters, upper-cased ("SIZE 10240000").
  const std::vector<std::string>& extensions() const { return extensions_; }

 private:
  enum class Step { Greeting, Ehlo, Xclient, EhloAgain, AuthPlain, AuthLogin, Done };

  std::optional<LoginOutcome> consume(std::string_view bytes) override;
  // One complete reply: code and the text of every line.
  std::optional<LoginOutcome> on_reply(int code, const std::vector<std::string>& lines);
  std::optional<LoginOutcome> after_ehlo();
  std::optional<LoginOutcome> send_auth();
  LoginOutcome auth_answer(int code);
  std::optional<LoginOutcome> answer_login_prompt(std::string_view challenge);
  bool offered(std::string_view keyword) const;
  bool offers_mechanism(std::string_view mechanism) const;

  std::string ehlo_name_;
  Mechanism mechanism_;
  bool user_sent_ = false;  // AUTH LOGIN: the user name answered a prompt
  Step step_ = Step::Greeting;
  smtp::ReplyReader replies_;
  std::vector<std::string> extensions_;
};

}  // namespace podgate::proxy
