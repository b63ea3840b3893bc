#include "proxy/session/imap_backend_login.h"

#include <utility>

#include "proxy/protocol/ascii.h"
#include "proxy/protocol/imap/imap_text.h"
#include "proxy/protocol/pod_verdict.h"
#include "proxy/protocol/sasl/sasl.h"

namespace podgate::proxy {

namespace {

using imap::capability_from;
using protocol::has_word;
using protocol::istarts_with;

// The rest of "<tag> <answer>", if the line carries that tag.
std::optional<std::string_view> tagged(std::string_view line, std::string_view tag) {
  if (line.size() <= tag.size() || line.substr(0, tag.size()) != tag || line[tag.size()] != ' ') {
    return std::nullopt;
  }
  return line.substr(tag.size() + 1);
}

constexpr std::string_view kCapabilityTag = "C";
constexpr std::string_view kIdTag = "I";
constexpr std::string_view kLoginTag = "L";
constexpr std::string_view kPostLoginCapabilityTag = "K";

}  // namespace

ImapBackendLogin::ImapBackendLogin(const Credentials& credentials, ClientIdentity client)
    : LineBackendLogin(credentials, std::move(client), kMaxLineBytes) {}

void ImapBackendLogin::keep_capabilities(std::string_view line) {
  if (std::string capabilities = capability_from(line); !capabilities.empty()) {
    capabilities_ = std::move(capabilities);
  }
}

std::optional<LoginOutcome> ImapBackendLogin::on_line(std::string_view line) {
  switch (step_) {
    case Step::Greeting:
      return on_greeting(line);
    case Step::PreLoginCapability:
      if (line.rfind("* ", 0) == 0) {
        keep_capabilities(line);
        return std::nullopt;
      }
      if (tagged(line, kCapabilityTag)) return send_login();
      return std::nullopt;
    case Step::AuthenticateContinuation:
      if (line.rfind("+", 0) == 0) {
        send_credentials(
            sasl::base64_encode(sasl::make_plain(credentials_.authcid, credentials_.secret)));
        send("\r\n");
        step_ = Step::Login;
        return std::nullopt;
      }
      return on_login_answer(line);
    case Step::Login:
      if (line.rfind("+", 0) == 0) return fault("pod asked for an unexpected continuation");
      return on_login_answer(line);
    case Step::PostLoginCapability:
      if (line.rfind("* ", 0) == 0) {
        keep_capabilities(line);
        return std::nullopt;
      }
      if (tagged(line, kPostLoginCapabilityTag)) {
        step_ = Step::Done;
        return LoginOutcome::LoggedIn;
      }
      return std::nullopt;
    case Step::Done:
      break;
  }
  return std::nullopt;
}

std::optional<LoginOutcome> ImapBackendLogin::on_greeting(std::string_view line) {
  if (!istarts_with(line, "* OK")) {
    return fault(istarts_with(line, "* BYE") ? "pod greeted with BYE"
                                             : "pod sent no IMAP greeting");
  }
  capabilities_ = capability_from(line);
  if (capabilities_.empty()) {
    send(std::string(kCapabilityTag) + " CAPABILITY\r\n");
    step_ = Step::PreLoginCapability;
    return std::nullopt;
  }
  return send_login();
}

// The pod's answers while the login is under way: untagged data (the ID
// answer, capabilities), a BYE, or the tagged verdict.
std::optional<LoginOutcome> ImapBackendLogin::on_login_answer(std::string_view line) {
  if (istarts_with(line, "* BYE")) return fault("pod said BYE during the login");
  if (line.rfind("* ", 0) == 0) {
    keep_capabilities(line);
    return std::nullopt;
  }
  std::optional<std::string_view> answer = tagged(line, kLoginTag);
  if (!answer) return std::nullopt;  // the ID answer, or noise
  LoginOutcome verdict = imap_login_verdict(*answer);
  step_ = Step::Done;
  if (!credentials_sent()) {
    // AUTHENTICATE refused before its "+": nothing was said of the password.
    return fault("pod refused AUTHENTICATE PLAIN: " + answer_summary(*answer));
  }
  if (verdict == LoginOutcome::PodFault) {
    return fault("pod answered the login with " + answer_summary(*answer));
  }
  if (verdict != LoginOutcome::LoggedIn) return verdict;
  keep_capabilities(line);
  if (!capabilities_.empty()) return LoginOutcome::LoggedIn;
  // The pod did not say what it offers after login; ask, so the client gets
  // it in the tagged OK as it would from the pod directly.
  send(std::string(kPostLoginCapabilityTag) + " CAPABILITY\r\n");
  step_ = Step::PostLoginCapability;
  return std::nullopt;
}

std::optional<LoginOutcome> ImapBackendLogin::send_login() {
  std::string offered = std::exchange(capabilities_, {});
  bool plain = has_word(offered, "AUTH=PLAIN");
  if (!plain && has_word(offered, "LOGINDISABLED")) {
    // RFC 9051 section 6.2.3: LOGIN would be refused, and the refusal must
    // not look like a wrong password.
    step_ = Step::Done;
    return fault("pod says LOGINDISABLED and offers no AUTH=PLAIN");
  }
  if (has_word(offered, "ID")) {
    send(std::string(kIdTag) + " ID (\"x-originating-ip\" " + imap::quote(client_.ip) +
         " \"x-originating-port\" \"" + std::to_string(client_.port) + "\" \"x-connected-ip\" " +
         imap::quote(client_.local_ip) + " \"x-connected-port\" \"" +
         std::to_string(client_.local_port) + "\" \"x-session-id\" " +
         imap::quote(client_.session) + ")\r\n");
  }
  step_ = Step::Login;
  if (plain && has_word(offered, "SASL-IR")) {
    // One line whatever the password holds: no quoting, no literals.
    send(std::string(kLoginTag) + " AUTHENTICATE PLAIN ");
    send_credentials(
        sasl::base64_encode(sasl::make_plain(credentials_.authcid, credentials_.secret)));
    send("\r\n");
  } else if (plain) {
    send(std::string(kLoginTag) + " AUTHENTICATE PLAIN\r\n");
    step_ = Step::AuthenticateContinuation;
  } else if (imap::quotable(credentials_.authcid) && imap::quotable(credentials_.secret.view())) {
    Secret login(std::string(kLoginTag) + " LOGIN " + imap::quote(credentials_.authcid) + " ");
    std::string quoted = imap::quote(credentials_.secret.view());
    login.append(quoted);
    wipe(quoted);
    login.append("\r\n");
    send_credentials(login);
  } else {
    // CR, LF or NUL cannot be sent with LOGIN: no such pod could accept them.
    step_ = Step::Done;
    return LoginOutcome::MalformedCredentials;
  }
  return std::nullopt;
}

}  // namespace podgate::proxy
