// The POP3 login dialogue:
//
//   server: +OK ready
//   client: STLS                      (--tls starttls)
//   client: USER u, then PASS p       (--auth login)
//           AUTH PLAIN <base64>       (--auth plain, initial response: RFC 5034)
//   client: STAT                      (--command default)
//   client: QUIT
#pragma once

#include <string_view>

#include "bench/podgate-bench/dialogue.h"
#include "proxy/protocol/line_framer.h"

namespace podgate::bench {

class Pop3Dialogue final : public Dialogue {
 public:
  // RFC 1939 allows 512 bytes per reply; real servers stay far below this.
  static constexpr std::size_t kMaxLineBytes = 8 * 1024;

  Pop3Dialogue(AuthMechanism auth, const Credential& credential);

  Progress begin(LoginState state) override;
  Progress feed(std::string_view bytes) override;
  void discard_buffered() override { framer_.discard_buffered(); }

 private:
  enum class Expect {
    Greeting,
    StlsAnswer,
    UserAnswer,
    PassAnswer,
    AuthAnswer,
    StatAnswer,
    QuitAnswer,
    Nothing
  };

  Progress on_line(std::string_view line);

  AuthMechanism auth_;
  const Credential& credential_;
  protocol::LineFramer framer_{kMaxLineBytes};
  Expect expect_ = Expect::Nothing;
};

}  // namespace podgate::bench
