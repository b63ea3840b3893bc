// The POP3 side of the extra authentication hop, as a pure state machine
// (see BackendLogin):
//
//   pod:     +OK ready
//   podgate: CAPA                              (what may we use?)
//   podgate: XCLIENT ADDR=<ip> PORT=<port> ... (when offered, in CAPA or as
//                                               Dovecot's greeting code [XCLIENT]:
//                                               the pod logs the real client)
//   podgate: AUTH PLAIN <base64>               (SASL PLAIN offered), else USER + PASS
//   pod:     +OK Logged in.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proxy/session/backend_login.h"

namespace podgate::proxy {

class Pop3BackendLogin final : public BackendLogin {
 public:
  static constexpr std::size_t kMaxLineBytes = 8 * 1024;

  Pop3BackendLogin(std::string user, std::string password, ClientIdentity client);
  ~Pop3BackendLogin() override;

  Verdict feed(std::string_view bytes) override;
  std::string take_output() override;
  std::string take_leftover() override;
  const std::string& problem() const override { return problem_; }
  std::string logout_command() const override { return "QUIT\r\n"; }

 private:
  enum class Step { Greeting, Capa, CapaList, Xclient, Auth, User, Pass, Done };

  Verdict on_line(std::string_view line);
  Verdict after_capabilities();
  Verdict send_credentials();
  Verdict login_answer(std::string_view line);
  Verdict unavailable(std::string problem);
  bool offered(std::string_view capability) const;

  std::string user_;
  std::string password_;
  ClientIdentity client_;
  Step step_ = Step::Greeting;
  Verdict verdict_ = Verdict::Pending;
  std::string input_;
  std::string output_;
  std::vector<std::string> capabilities_;  // CAPA lines, upper-cased
  bool xclient_in_greeting_ = false;
  std::string problem_;
};

}  // namespace podgate::proxy
