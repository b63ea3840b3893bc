// The IMAP login dialogue, with fixed tags per step so every answer is
// matched to the command it ends:
//
//   server: * OK [CAPABILITY ... SASL-IR ...] ready
//   client: S STARTTLS                         (--tls starttls)
//   client: A LOGIN "user" "password"          (--auth login)
//           A AUTHENTICATE PLAIN <base64>      (--auth plain; SASL-IR when the
//                                               greeting offers it, else after "+")
//   client: C SELECT INBOX                     (--command default or fetch)
//   client: F FETCH 1 BODY.PEEK[]              (--command fetch: the whole literal)
//   client: C IDLE                             (--hold: done at the "+" answer)
//   client: Z LOGOUT
//
// Untagged lines are read and skipped (literals included) except the greeting.
#pragma once

#include <string_view>

#include "bench/podgate-bench/dialogue.h"
#include "bench/podgate-bench/imap_reader.h"

namespace podgate::bench {

class ImapDialogue final : public Dialogue {
 public:
  ImapDialogue(AuthMechanism auth, CommandKind command, const Credential& credential);

  Progress begin(LoginState state) override;
  Progress feed(std::string_view bytes) override;
  void discard_buffered() override { reader_.discard_buffered(); }

 private:
  enum class Expect {
    Greeting,
    StartTlsAnswer,
    AuthContinuation,
    AuthAnswer,
    SelectAnswer,
    FetchAnswer,
    IdleContinuation,
    LogoutAnswer,
    Nothing,
  };

  Progress on_line(std::string_view line);
  Progress on_greeting(std::string_view line);
  Progress on_continuation();
  Progress on_tagged(std::string_view tag, std::string_view status, std::string_view text);
  void send_plain_response();

  AuthMechanism auth_;
  CommandKind command_;
  const Credential& credential_;
  ImapResponseReader reader_;
  Expect expect_ = Expect::Nothing;
  bool sasl_ir_ = false;  // the greeting's capabilities allow an initial response
};

}  // namespace podgate::bench
