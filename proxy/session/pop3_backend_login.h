// The POP3 side of the extra authentication hop, as a pure state machine
// (see BackendLogin):
//
//   pod:     +OK ready
//   podgate: CAPA                              (what may we use?)
//   podgate: XCLIENT ADDR=<ip> PORT=<port> ... (when offered, in CAPA or as
//                                               Dovecot's greeting code [XCLIENT]:
//                                               the pod logs the real client)
//   podgate: AUTH PLAIN <base64>               (SASL PLAIN offered), else USER + PASS
//                                              (never to a pod whose CAPA offers
//                                               neither: it would refuse them)
//   pod:     +OK Logged in.
//
// pop3_login_verdict() (pod_verdict.h) says what each answer means.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/session/line_backend_login.h"

namespace podgate::proxy {

class Pop3BackendLogin final : public LineBackendLogin {
 public:
  static constexpr std::size_t kMaxLineBytes = 8 * 1024;

  Pop3BackendLogin(const Credentials& credentials, ClientIdentity client);

  std::string_view logout_command() const override { return "QUIT\r\n"; }

 private:
  enum class Step { Greeting, Capa, CapaList, Xclient, Auth, User, Pass, Done };

  std::optional<LoginOutcome> on_line(std::string_view line) override;
  std::optional<LoginOutcome> after_capabilities();
  std::optional<LoginOutcome> send_credentials_now();
  LoginOutcome login_answer(std::string_view line);
  bool offered(std::string_view capability) const;
  bool offers_sasl_plain() const;

  Step step_ = Step::Greeting;
  std::vector<std::string> capabilities_;  // CAPA lines, upper-cased
  bool capa_answered_ = false;             // the pod has CAPA (RFC 2449)
  bool xclient_in_greeting_ = false;
};

}  // namespace podgate::proxy
