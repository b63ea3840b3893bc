#include "proxy/session/smtp_backend_login.h"

#include <algorithm>
#include <utility>

#include "proxy/protocol/ascii.h"
#include "proxy/protocol/pod_verdict.h"
#include "proxy/protocol/sasl/sasl.h"

namespace podgate::proxy {

namespace {

using protocol::upper_cased;

// XCLIENT values are xtext (RFC 3461); addresses and EHLO names need no
// escaping unless they hold '+', '=' or controls, which we then leave out.
bool plain_xtext(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return c > 32 && c < 127 && c != '+' && c != '=';
  });
}

}  // namespace

SmtpBackendLogin::SmtpBackendLogin(const Credentials& credentials, ClientIdentity client,
                                   std::string ehlo_name, Mechanism mechanism)
    : BackendLogin(credentials, std::move(client)),
      ehlo_name_(std::move(ehlo_name)),
      mechanism_(mechanism) {
  if (!plain_xtext(ehlo_name_)) ehlo_name_ = "podgate";
}

bool SmtpBackendLogin::offered(std::string_view keyword) const {
  return std::any_of(extensions_.begin(), extensions_.end(), [&](const std::string& line) {
    return line == keyword || line.rfind(std::string(keyword) + " ", 0) == 0;
  });
}

bool SmtpBackendLogin::offers_mechanism(std::string_view mechanism) const {
  return std::any_of(extensions_.begin(), extensions_.end(), [&](const std::string& line) {
    return line.rfind("AUTH ", 0) == 0 && protocol::has_word(line, mechanism);
  });
}

std::optional<LoginOutcome> SmtpBackendLogin::consume(std::string_view bytes) {
  replies_.feed(bytes);
  while (std::optional<smtp::Reply> reply = replies_.next()) {
    std::size_t reply_bytes = 0;
    for (const std::string& line : reply->lines) reply_bytes += line.size() + 6;  // "ddd-" CRLF
    if (!spend(reply_bytes)) return overspent();
    if (std::optional<LoginOutcome> verdict = on_reply(reply->code, reply->lines)) return verdict;
  }
  if (replies_.broken()) {
    return fault("pod sent something that is not an SMTP reply (or too long a one)");
  }
  return std::nullopt;
}

std::optional<LoginOutcome> SmtpBackendLogin::on_reply(int code,
                                                       const std::vector<std::string>& lines) {
  switch (step_) {
    case Step::Greeting:
    case Step::Xclient:  // XCLIENT starts a new session: the pod greets again
      if (code != 220) {
        return fault(step_ == Step::Greeting ? "pod did not greet with 220"
                                             : "pod refused XCLIENT");
      }
      send("EHLO " + ehlo_name_ + "\r\n");
      step_ = step_ == Step::Greeting ? Step::Ehlo : Step::EhloAgain;
      return std::nullopt;
    case Step::Ehlo:
    case Step::EhloAgain:
      if (code != 250) return fault("pod refused EHLO");
      extensions_.clear();
      for (std::size_t i = 1; i < lines.size(); ++i) extensions_.push_back(upper_cased(lines[i]));
      if (step_ == Step::Ehlo) return after_ehlo();
      return send_auth();
    case Step::AuthPlain:
      return auth_answer(code);
    case Step::AuthLogin:
      if (code != 334) return auth_answer(code);
      return answer_login_prompt(lines.empty() ? "" : lines.front());
    case Step::Done:
      break;
  }
  return std::nullopt;
}

std::optional<LoginOutcome> SmtpBackendLogin::after_ehlo() {
  if (!offered("AUTH")) return fault("pod offers no AUTH after EHLO");
  if (offered("XCLIENT") && plain_xtext(client_.ip)) {
    // Postfix's XCLIENT wants IPv6 addresses tagged (RFC 5321 address literal style).
    std::string address =
        client_.ip.find(':') == std::string::npos ? client_.ip : "IPV6:" + client_.ip;
    send("XCLIENT ADDR=" + address + " PORT=" + std::to_string(client_.port) +
         " HELO=" + ehlo_name_ + "\r\n");
    step_ = Step::Xclient;
    return std::nullopt;
  }
  return send_auth();
}

std::optional<LoginOutcome> SmtpBackendLogin::send_auth() {
  std::string_view name = mechanism_ == Mechanism::Plain ? "PLAIN" : "LOGIN";
  if (!offers_mechanism(name)) {
    step_ = Step::Done;
    return fault("pod does not offer AUTH " + std::string(name));
  }
  if (mechanism_ == Mechanism::Plain) {
    // One line whatever the password holds.
    send("AUTH PLAIN ");
    send_credentials(
        sasl::base64_encode(sasl::make_plain(credentials_.authcid, credentials_.secret)));
    send("\r\n");
    step_ = Step::AuthPlain;
  } else {
    send("AUTH LOGIN\r\n");
    step_ = Step::AuthLogin;
  }
  return std::nullopt;
}

// Each prompt is answered by what it asks for, so a pod that prompts in
// another order never receives the password as a user name.
std::optional<LoginOutcome> SmtpBackendLogin::answer_login_prompt(std::string_view challenge) {
  std::string prompt = upper_cased(sasl::base64_decode(challenge).value_or(""));
  if (prompt.find("PASSWORD") != std::string::npos) {
    send_credentials(sasl::base64_encode(credentials_.secret));
    send("\r\n");
  } else if (prompt.find("USER") != std::string::npos) {
    send(sasl::base64_encode(credentials_.authcid) + "\r\n");
    user_sent_ = true;
  } else {
    step_ = Step::Done;
    return fault("pod sent an unknown AUTH LOGIN prompt");
  }
  return std::nullopt;
}

LoginOutcome SmtpBackendLogin::auth_answer(int code) {
  step_ = Step::Done;
  LoginOutcome verdict = smtp_auth_verdict(code);
  if (!credentials_sent() && verdict == LoginOutcome::WrongPassword && user_sent_) {
    // Refused at the user name: a verdict on it (the password never went out).
    return LoginOutcome::UnknownUser;
  }
  if (!credentials_sent() && verdict != LoginOutcome::PodFault) {
    // AUTH LOGIN answered before anything was asked: nothing was judged.
    return fault("pod answered AUTH LOGIN with " + std::to_string(code) + " before the password");
  }
  if (verdict == LoginOutcome::PodFault) {
    return fault("pod answered AUTH with " + std::to_string(code));
  }
  return verdict;
}

}  // namespace podgate::proxy
