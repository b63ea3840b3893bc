// The IMAP side of the extra authentication hop, as a pure state machine:
// bytes from the pod go in, bytes for the pod and a verdict come out. The
// session owns the socket; this class only knows the dialogue:
//
//   pod:     * OK [CAPABILITY ...] ready          (or no CAPABILITY: we ask)
//   podgate: I ID ("x-originating-ip" ...)        (when the pod speaks ID)
//   podgate: L AUTHENTICATE PLAIN <base64>        (SASL-IR), else L LOGIN "u" "p"
//   pod:     L OK [CAPABILITY ...] Logged in      (or no CAPABILITY: we ask)
//
// Replies are matched by the fixed tags podgate sends, never by client tags.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "proxy/session/backend_login.h"

namespace podgate::proxy {

class ImapBackendLogin final : public BackendLogin {
 public:
  static constexpr std::size_t kMaxLineBytes = 64 * 1024;

  ImapBackendLogin(std::string user, std::string password, ClientIdentity client);
  ~ImapBackendLogin() override;

  Verdict feed(std::string_view bytes) override;
  std::string take_output() override;
  std::string take_leftover() override;
  const std::string& problem() const override { return problem_; }
  std::string logout_command() const override { return "Q LOGOUT\r\n"; }

  // The pod's post-login capability list ("IMAP4rev1 IDLE ...").
  const std::string& capabilities() const { return capabilities_; }

 private:
  enum class Step { Greeting, PreLoginCapability, Login, PostLoginCapability, Done };

  Verdict on_line(std::string_view line);
  Verdict on_greeting(std::string_view line);
  void send_login();
  Verdict unavailable(std::string problem);

  std::string user_;
  std::string password_;
  ClientIdentity client_;
  Step step_ = Step::Greeting;
  Verdict verdict_ = Verdict::Pending;
  std::string input_;
  std::string output_;
  std::string capabilities_;
  std::string problem_;
};

}  // namespace podgate::proxy
