#include "proxy/session/pop3_backend_login.h"

#include <algorithm>
#include <utility>

#include "proxy/protocol/ascii.h"
#include "proxy/protocol/pod_verdict.h"
#include "proxy/protocol/sasl/sasl.h"

namespace podgate::proxy {

namespace {

using protocol::istarts_with;

// USER/PASS arguments end at CRLF; XCLIENT values must be one word.
bool fits_on_a_line(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

Pop3BackendLogin::Pop3BackendLogin(const Credentials& credentials, ClientIdentity client)
    : LineBackendLogin(credentials, std::move(client), kMaxLineBytes) {}

bool Pop3BackendLogin::offered(std::string_view capability) const {
  return std::any_of(capabilities_.begin(), capabilities_.end(), [&](const std::string& line) {
    return line == capability || line.rfind(std::string(capability) + " ", 0) == 0;
  });
}

bool Pop3BackendLogin::offers_sasl_plain() const {
  return std::any_of(capabilities_.begin(), capabilities_.end(), [](const std::string& line) {
    return line.rfind("SASL ", 0) == 0 && protocol::has_word(line, "PLAIN");
  });
}

std::optional<LoginOutcome> Pop3BackendLogin::on_line(std::string_view line) {
  switch (step_) {
    case Step::Greeting:
      if (!istarts_with(line, "+OK")) return fault("pod sent no POP3 greeting");
      // Dovecot announces XCLIENT to trusted proxies in its greeting.
      xclient_in_greeting_ = line.find("[XCLIENT]") != std::string_view::npos;
      send("CAPA\r\n");
      step_ = Step::Capa;
      return std::nullopt;
    case Step::Capa:
      if (istarts_with(line, "+OK")) {
        capa_answered_ = true;
        step_ = Step::CapaList;
        return std::nullopt;
      }
      return after_capabilities();  // no CAPA (RFC 1939 server): plain USER/PASS
    case Step::CapaList:
      if (line == ".") return after_capabilities();
      capabilities_.push_back(protocol::upper_cased(line));
      return std::nullopt;
    case Step::Xclient:
      // A refused XCLIENT costs the pod the client's address, not the login.
      return send_credentials_now();
    case Step::User:
      if (!istarts_with(line, "+OK")) {
        // RFC 1939 servers may refuse an unknown user at USER: a verdict on
        // the name, like the directory's unknown user (the password never
        // went out). Anything else before the password is the pod's fault.
        LoginOutcome verdict = login_answer(line);
        if (verdict == LoginOutcome::WrongPassword) return LoginOutcome::UnknownUser;
        if (verdict == LoginOutcome::PodFault) return verdict;
        return fault("pod answered USER with " + answer_summary(line));
      }
      {
        Secret pass(std::string_view("PASS "));
        pass.append(credentials_.secret.view());
        pass.append("\r\n");
        send_credentials(pass);
      }
      step_ = Step::Pass;
      return std::nullopt;
    case Step::Auth:
    case Step::Pass:
      return login_answer(line);
    case Step::Done:
      break;
  }
  return std::nullopt;
}

std::optional<LoginOutcome> Pop3BackendLogin::after_capabilities() {
  if ((xclient_in_greeting_ || offered("XCLIENT")) && fits_on_a_line(client_.ip) &&
      fits_on_a_line(client_.session) && client_.session.find(' ') == std::string::npos) {
    send("XCLIENT ADDR=" + client_.ip + " PORT=" + std::to_string(client_.port) +
         " SESSION=" + client_.session + "\r\n");
    step_ = Step::Xclient;
    return std::nullopt;
  }
  return send_credentials_now();
}

std::optional<LoginOutcome> Pop3BackendLogin::send_credentials_now() {
  if (offers_sasl_plain()) {
    // One line whatever the password holds.
    send("AUTH PLAIN ");
    send_credentials(
        sasl::base64_encode(sasl::make_plain(credentials_.authcid, credentials_.secret)));
    send("\r\n");
    step_ = Step::Auth;
    return std::nullopt;
  }
  step_ = Step::Done;
  if (capa_answered_ && !offered("USER")) {
    // Dovecot without TLS and disable_plaintext_auth: USER would be refused,
    // and the refusal must not look like a wrong password.
    return fault("pod offers neither USER nor SASL PLAIN");
  }
  if (!fits_on_a_line(credentials_.authcid) || !fits_on_a_line(credentials_.secret.view())) {
    return LoginOutcome::MalformedCredentials;  // no pod could take these over USER/PASS
  }
  send("USER " + credentials_.authcid + "\r\n");
  step_ = Step::User;
  return std::nullopt;
}

LoginOutcome Pop3BackendLogin::login_answer(std::string_view line) {
  step_ = Step::Done;
  LoginOutcome verdict = pop3_login_verdict(line);
  if (verdict == LoginOutcome::PodFault) {
    return fault("pod answered the login with " + answer_summary(line));
  }
  return verdict;
}

}  // namespace podgate::proxy
