#include "bench/podgate-bench/smtp_dialogue.h"

#include "proxy/protocol/sasl/sasl.h"

namespace podgate::bench {

namespace {

constexpr std::string_view kHello = "EHLO podgate-bench";

ErrorKind auth_refusal(int code) {
  if (code == 454) return ErrorKind::AuthUnavailable;  // temporary authentication failure
  if (code >= 400 && code < 600) return ErrorKind::AuthFailed;
  return ErrorKind::Protocol;
}

}  // namespace

SmtpDialogue::SmtpDialogue(AuthMechanism auth, const Credential& credential)
    : auth_(auth), credential_(credential) {}

Progress SmtpDialogue::begin(LoginState state) {
  switch (state) {
    case LoginState::Greeting:
      expect_ = Expect::Greeting;
      return Progress::need_more();
    case LoginState::StartTls:
      send(kHello);
      expect_ = Expect::HelloBeforeTls;
      return Progress::need_more();
    case LoginState::Auth:
      // The EHLO answer after TLS is the one that offers AUTH.
      send(kHello);
      expect_ = Expect::HelloBeforeAuth;
      return Progress::need_more();
    case LoginState::Command:
      send("NOOP");
      expect_ = Expect::NoopAnswer;
      return Progress::need_more();
    case LoginState::Logout:
      send("QUIT");
      expect_ = Expect::QuitAnswer;
      return Progress::need_more();
    default:
      return Progress::failed(ErrorKind::Protocol);
  }
}

Progress SmtpDialogue::feed(std::string_view bytes) {
  reader_.feed(bytes);
  while (std::optional<smtp::Reply> reply = reader_.next()) {
    Progress progress = on_reply(reply->code);
    if (progress.kind != Progress::Kind::NeedMore) return progress;
  }
  return reader_.broken() ? Progress::failed(ErrorKind::Protocol) : Progress::need_more();
}

Progress SmtpDialogue::on_reply(int code) {
  Expect was = expect_;
  expect_ = Expect::Nothing;
  switch (was) {
    case Expect::Greeting:
      return code == 220 ? Progress::done() : Progress::failed(ErrorKind::Greeting);
    case Expect::HelloBeforeTls:
      if (code != 250) return Progress::failed(ErrorKind::Greeting);
      send("STARTTLS");
      expect_ = Expect::StartTlsAnswer;
      return Progress::tls_clock_starts();
    case Expect::StartTlsAnswer:
      return code == 220 ? Progress::done() : Progress::failed(ErrorKind::Tls);
    case Expect::HelloBeforeAuth:
      if (code != 250) return Progress::failed(ErrorKind::Greeting);
      if (auth_ == AuthMechanism::Plain) {
        send("AUTH PLAIN " +
             sasl::base64_encode(sasl::make_plain(credential_.user, credential_.password)));
        expect_ = Expect::AuthAnswer;
      } else {
        send("AUTH LOGIN");
        expect_ = Expect::LoginUserPrompt;
      }
      return Progress::need_more();
    case Expect::LoginUserPrompt:
      if (code != 334) return Progress::failed(auth_refusal(code));
      send(sasl::base64_encode(credential_.user));
      expect_ = Expect::LoginPasswordPrompt;
      return Progress::need_more();
    case Expect::LoginPasswordPrompt:
      if (code != 334) return Progress::failed(auth_refusal(code));
      send(sasl::base64_encode(credential_.password));
      expect_ = Expect::AuthAnswer;
      return Progress::need_more();
    case Expect::AuthAnswer:
      return code == 235 ? Progress::done() : Progress::failed(auth_refusal(code));
    case Expect::NoopAnswer:
      return code == 250 ? Progress::done() : Progress::failed(ErrorKind::Command);
    case Expect::QuitAnswer:
      return code == 221 ? Progress::done() : Progress::failed(ErrorKind::Protocol);
    case Expect::Nothing:
      break;
  }
  return Progress::failed(ErrorKind::Protocol);
}

}  // namespace podgate::bench
