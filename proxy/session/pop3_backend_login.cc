#include "proxy/session/pop3_backend_login.h"

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

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// USER/PASS arguments end at CRLF; XCLIENT values must be one word.
bool fits_on_a_line(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

Pop3BackendLogin::Pop3BackendLogin(std::string user, std::string password, ClientIdentity client)
    : user_(std::move(user)), password_(std::move(password)), client_(std::move(client)) {}

Pop3BackendLogin::~Pop3BackendLogin() {
  std::fill(password_.begin(), password_.end(), '\0');
}

std::string Pop3BackendLogin::take_output() {
  return std::exchange(output_, {});
}

std::string Pop3BackendLogin::take_leftover() {
  return std::exchange(input_, {});
}

BackendLogin::Verdict Pop3BackendLogin::unavailable(std::string problem) {
  problem_ = std::move(problem);
  return Verdict::Unavailable;
}

bool Pop3BackendLogin::offered(std::string_view capability) const {
  return std::any_of(capabilities_.begin(), capabilities_.end(), [&](const std::string& line) {
    return line == capability || starts_with(line, std::string(capability) + " ");
  });
}

BackendLogin::Verdict Pop3BackendLogin::feed(std::string_view bytes) {
  if (verdict_ != Verdict::Pending) return verdict_;
  input_.append(bytes);
  std::size_t start = 0;
  while (verdict_ == Verdict::Pending) {
    std::size_t newline = input_.find('\n', start);
    if (newline == std::string::npos) {
      if (input_.size() - start > kMaxLineBytes)
        verdict_ = unavailable("pod sent an overlong line");
      break;
    }
    std::string_view line(input_.data() + start, newline - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    start = newline + 1;
    verdict_ = on_line(line);
  }
  input_.erase(0, start);
  return verdict_;
}

BackendLogin::Verdict Pop3BackendLogin::on_line(std::string_view line) {
  switch (step_) {
    case Step::Greeting:
      if (!starts_with(line, "+OK")) return unavailable("pod sent no POP3 greeting");
      // Dovecot announces XCLIENT to trusted proxies in its greeting.
      xclient_in_greeting_ = line.find("[XCLIENT]") != std::string_view::npos;
      output_ += "CAPA\r\n";
      step_ = Step::Capa;
      return Verdict::Pending;
    case Step::Capa:
      if (starts_with(line, "+OK")) {
        step_ = Step::CapaList;
        return Verdict::Pending;
      }
      return after_capabilities();  // no CAPA (RFC 1939 server): plain USER/PASS
    case Step::CapaList:
      if (line == ".") return after_capabilities();
      capabilities_.push_back(upper(line));
      return Verdict::Pending;
    case Step::Xclient:
      // A refused XCLIENT costs the pod the client's address, not the login.
      return send_credentials();
    case Step::User:
      if (!starts_with(line, "+OK")) return login_answer(line);
      output_ += "PASS " + password_ + "\r\n";
      std::fill(password_.begin(), password_.end(), '\0');
      step_ = Step::Pass;
      return Verdict::Pending;
    case Step::Auth:
    case Step::Pass:
      return login_answer(line);
    case Step::Done:
      break;
  }
  return verdict_;
}

BackendLogin::Verdict Pop3BackendLogin::after_capabilities() {
  if ((xclient_in_greeting_ || offered("XCLIENT")) && fits_on_a_line(client_.ip) &&
      fits_on_a_line(client_.session) && client_.session.find(' ') == std::string::npos) {
    output_ += "XCLIENT ADDR=" + client_.ip + " PORT=" + std::to_string(client_.port) +
               " SESSION=" + client_.session + "\r\n";
    step_ = Step::Xclient;
    return Verdict::Pending;
  }
  return send_credentials();
}

BackendLogin::Verdict Pop3BackendLogin::send_credentials() {
  if (std::any_of(capabilities_.begin(), capabilities_.end(), [](const std::string& line) {
        return starts_with(line, "SASL ") && (line + " ").find(" PLAIN ") != std::string::npos;
      })) {
    // One line whatever the password holds.
    output_ += "AUTH PLAIN " + sasl::base64_encode(sasl::make_plain(user_, password_)) + "\r\n";
    std::fill(password_.begin(), password_.end(), '\0');
    step_ = Step::Auth;
    return Verdict::Pending;
  }
  if (!fits_on_a_line(user_) || !fits_on_a_line(password_)) {
    step_ = Step::Done;
    return Verdict::AuthFailed;  // no pod could accept these over USER/PASS
  }
  output_ += "USER " + user_ + "\r\n";
  step_ = Step::User;
  return Verdict::Pending;
}

BackendLogin::Verdict Pop3BackendLogin::login_answer(std::string_view line) {
  step_ = Step::Done;
  if (starts_with(line, "+OK")) return Verdict::LoggedIn;
  // RFC 3206 response codes say why; without one, it is a refusal.
  if (line.find("[SYS/TEMP]") != std::string_view::npos) {
    return unavailable("pod answered SYS/TEMP");
  }
  if (line.find("[IN-USE]") != std::string_view::npos) return Verdict::InUse;
  if (starts_with(line, "-ERR")) return Verdict::AuthFailed;
  return unavailable("pod sent an unexpected login answer");
}

}  // namespace podgate::proxy
