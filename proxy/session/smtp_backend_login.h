// The SMTP side of the extra authentication hop, as a pure state machine
// (see BackendLogin):
//
//   pod:     220 ready
//   podgate: EHLO <the client's own EHLO name>
//   podgate: XCLIENT ADDR=<ip> PORT=<port> HELO=<name>   (when offered; the pod
//            then greets again, and gets EHLO again)
//   podgate: AUTH PLAIN <base64>, or AUTH LOGIN answering its 334 prompts (per pod)
//   pod:     235 2.7.0 Authentication successful
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proxy/protocol/smtp/smtp_reply_reader.h"
#include "proxy/session/backend_login.h"

namespace podgate::proxy {

class SmtpBackendLogin final : public BackendLogin {
 public:
  enum class Mechanism { Plain, Login };
  SmtpBackendLogin(std::string user, std::string password, ClientIdentity client,
                   std::string ehlo_name, Mechanism mechanism);
  ~SmtpBackendLogin() override;

  Verdict feed(std::string_view bytes) override;
  std::string take_output() override;
  std::string take_leftover() override;
  const std::string& problem() const override { return problem_; }
  std::string logout_command() const override { return "QUIT\r\n"; }

  // The pod's EHLO keywords with their parameters, upper-cased ("SIZE 10240000").
  const std::vector<std::string>& extensions() const { return extensions_; }

 private:
  enum class Step { Greeting, Ehlo, Xclient, EhloAgain, AuthPlain, AuthLogin, Done };

  // One complete reply: code and the text of every line.
  Verdict on_reply(int code, const std::vector<std::string>& lines);
  Verdict after_ehlo();
  Verdict send_auth();
  Verdict auth_answer(int code);
  Verdict answer_login_prompt(std::string_view challenge);
  Verdict unavailable(std::string problem);
  bool offered(std::string_view keyword) const;

  std::string user_;
  std::string password_;
  ClientIdentity client_;
  std::string ehlo_name_;
  Mechanism mechanism_;
  Step step_ = Step::Greeting;
  Verdict verdict_ = Verdict::Pending;
  smtp::ReplyReader replies_;
  std::string output_;
  std::vector<std::string> extensions_;
  std::string problem_;
};

}  // namespace podgate::proxy
