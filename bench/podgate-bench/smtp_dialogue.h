// The SMTP submission login dialogue (replies read whole, multi-line ones
// included, by the reader podgate uses towards its pods):
//
//   server: 220 ready
//   client: EHLO podgate-bench, then STARTTLS   (--tls starttls)
//   client: EHLO podgate-bench                  (again after TLS, or the only one)
//   client: AUTH PLAIN <base64>                 (--auth plain, initial response)
//           AUTH LOGIN, then user and password  (--auth login, each after a 334)
//   client: NOOP                                (--command default)
//   client: QUIT
#pragma once

#include <string_view>

#include "bench/podgate-bench/dialogue.h"
#include "proxy/protocol/smtp/smtp_reply_reader.h"

namespace podgate::bench {

class SmtpDialogue final : public Dialogue {
 public:
  SmtpDialogue(AuthMechanism auth, const Credential& credential);

  Progress begin(LoginState state) override;
  Progress feed(std::string_view bytes) override;
  void discard_buffered() override { reader_.take_rest(); }

 private:
  enum class Expect {
    Greeting,
    HelloBeforeTls,
    StartTlsAnswer,
    HelloBeforeAuth,
    LoginUserPrompt,
    LoginPasswordPrompt,
    AuthAnswer,
    NoopAnswer,
    QuitAnswer,
    Nothing,
  };

  Progress on_reply(int code);

  AuthMechanism auth_;
  const Credential& credential_;
  smtp::ReplyReader reader_;
  Expect expect_ = Expect::Nothing;
};

}  // namespace podgate::bench
