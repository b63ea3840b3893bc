// The IMAP side of the extra authentication hop, as a pure state machine:
// bytes from the pod go in, bytes for the pod and a verdict come out. The
// session owns the socket; this class only knows the dialogue:
//
//   pod:     * OK [CAPABILITY ...] ready          (or no CAPABILITY: we ask)
//   podgate: I ID ("x-originating-ip" ...)        (when the pod speaks ID)
//   podgate: L AUTHENTICATE PLAIN <base64>        (AUTH=PLAIN with SASL-IR;
//            without SASL-IR the payload answers the pod's "+"), else
//            L LOGIN "u" "p"                      (never to a pod that says
//                                                  LOGINDISABLED)
//   pod:     L OK [CAPABILITY ...] Logged in      (or no CAPABILITY: we ask)
//
// Replies are matched by the fixed tags podgate sends, never by client tags;
// imap_login_verdict() (pod_verdict.h) says what the tagged answer means.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/session/line_backend_login.h"

namespace podgate::proxy {

class ImapBackendLogin final : public LineBackendLogin {
 public:
  static constexpr std::size_t kMaxLineBytes = 16 * 1024;

  ImapBackendLogin(const Credentials& credentials, ClientIdentity client);

  std::string_view logout_command() const override { return "Q LOGOUT\r\n"; }

  // The pod's post-login capability list ("IMAP4rev1 IDLE ...").
  const std::string& capabilities() const { return capabilities_; }

 private:
  enum class Step {
    Greeting,
    PreLoginCapability,
    AuthenticateContinuation,  // AUTHENTICATE PLAIN without SASL-IR: waiting for "+"
    Login,
    PostLoginCapability,
    Done,
  };

  std::optional<LoginOutcome> on_line(std::string_view line) override;
  std::optional<LoginOutcome> on_greeting(std::string_view line);
  std::optional<LoginOutcome> on_login_answer(std::string_view line);
  std::optional<LoginOutcome> send_login();
  void keep_capabilities(std::string_view line);

  Step step_ = Step::Greeting;
  std::string capabilities_;
};

}  // namespace podgate::proxy
