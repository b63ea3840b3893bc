#include "proxy/session/smtp_backend_login.h"

#include <algorithm>
#include <utility>

#include "proxy/protocol/sasl/sasl.h"

namespace podgate::proxy {

namespace {

std::string upper(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return result;
}

// XCLIENT values are xtext (RFC 3461); addresses and EHLO names need no
// escaping unless they hold '+', '=' or controls, which we then leave out.
bool plain_xtext(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return c > 32 && c < 127 && c != '+' && c != '=';
  });
}

}  // namespace

SmtpBackendLogin::SmtpBackendLogin(std::string user, std::string password, ClientIdentity client,
                                   std::string ehlo_name, Mechanism mechanism)
    : user_(std::move(user)),
      password_(std::move(password)),
      client_(std::move(client)),
      ehlo_name_(std::move(ehlo_name)),
      mechanism_(mechanism) {
  if (!plain_xtext(ehlo_name_)) ehlo_name_ = "podgate";
}

SmtpBackendLogin::~SmtpBackendLogin() {
  std::fill(password_.begin(), password_.end(), '\0');
}

std::string SmtpBackendLogin::take_output() {
  return std::exchange(output_, {});
}

std::string SmtpBackendLogin::take_leftover() {
  return replies_.take_rest();
}

BackendLogin::Verdict SmtpBackendLogin::unavailable(std::string problem) {
  problem_ = std::move(problem);
  step_ = Step::Done;
  return Verdict::Unavailable;
}

bool SmtpBackendLogin::offered(std::string_view keyword) const {
  return std::any_of(extensions_.begin(), extensions_.end(), [&](const std::string& line) {
    return line == keyword || line.rfind(std::string(keyword) + " ", 0) == 0;
  });
}

BackendLogin::Verdict SmtpBackendLogin::feed(std::string_view bytes) {
  if (verdict_ != Verdict::Pending) return verdict_;
  replies_.feed(bytes);
  while (verdict_ == Verdict::Pending) {
    std::optional<smtp::Reply> reply = replies_.next();
    if (!reply) {
      if (replies_.broken()) verdict_ = unavailable("pod sent something that is not an SMTP reply");
      break;
    }
    verdict_ = on_reply(reply->code, reply->lines);
  }
  return verdict_;
}

BackendLogin::Verdict SmtpBackendLogin::on_reply(int code, const std::vector<std::string>& lines) {
  switch (step_) {
    case Step::Greeting:
    case Step::Xclient:  // XCLIENT starts a new session: the pod greets again
      if (code != 220) {
        return unavailable(step_ == Step::Greeting ? "pod did not greet with 220"
                                                   : "pod refused XCLIENT");
      }
      output_ += "EHLO " + ehlo_name_ + "\r\n";
      step_ = step_ == Step::Greeting ? Step::Ehlo : Step::EhloAgain;
      return Verdict::Pending;
    case Step::Ehlo:
    case Step::EhloAgain:
      if (code != 250) return unavailable("pod refused EHLO");
      extensions_.clear();
      for (std::size_t i = 1; i < lines.size(); ++i) extensions_.push_back(upper(lines[i]));
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
  return verdict_;
}

BackendLogin::Verdict SmtpBackendLogin::after_ehlo() {
  if (!offered("AUTH")) return unavailable("pod offers no AUTH after EHLO");
  if (offered("XCLIENT") && plain_xtext(client_.ip)) {
    // Postfix's XCLIENT wants IPv6 addresses tagged (RFC 5321 address literal style).
    std::string address =
        client_.ip.find(':') == std::string::npos ? client_.ip : "IPV6:" + client_.ip;
    output_ += "XCLIENT ADDR=" + address + " PORT=" + std::to_string(client_.port) +
               " HELO=" + ehlo_name_ + "\r\n";
    step_ = Step::Xclient;
    return Verdict::Pending;
  }
  return send_auth();
}

BackendLogin::Verdict SmtpBackendLogin::send_auth() {
  if (mechanism_ == Mechanism::Plain) {
    // One line whatever the password holds.
    output_ += "AUTH PLAIN " + sasl::base64_encode(sasl::make_plain(user_, password_)) + "\r\n";
    std::fill(password_.begin(), password_.end(), '\0');
    step_ = Step::AuthPlain;
  } else {
    output_ += "AUTH LOGIN\r\n";
    step_ = Step::AuthLogin;
  }
  return Verdict::Pending;
}

// Each prompt is answered by what it asks for, so a pod that prompts in
// another order never receives the password as a user name.
BackendLogin::Verdict SmtpBackendLogin::answer_login_prompt(std::string_view challenge) {
  std::string prompt = upper(sasl::base64_decode(challenge).value_or(""));
  if (prompt.find("PASSWORD") != std::string::npos) {
    output_ += sasl::base64_encode(password_) + "\r\n";
    std::fill(password_.begin(), password_.end(), '\0');
  } else if (prompt.find("USER") != std::string::npos) {
    output_ += sasl::base64_encode(user_) + "\r\n";
  } else {
    return unavailable("pod sent an unknown AUTH LOGIN prompt");
  }
  return Verdict::Pending;
}

BackendLogin::Verdict SmtpBackendLogin::auth_answer(int code) {
  step_ = Step::Done;
  if (code == 235) return Verdict::LoggedIn;
  // Only these say the credentials are wrong; anything else (530 "STARTTLS
  // first", 501 syntax, 454...) is the pod's or podgate's problem, and must
  // not look like a wrong password to the user.
  if (code == 535 || code == 534) return Verdict::AuthFailed;
  return unavailable("pod answered AUTH with " + std::to_string(code));
}

}  // namespace podgate::proxy
