#include "proxy/session/imap_backend_login.h"

#include <algorithm>
#include <sstream>
#include <utility>

#include "proxy/protocol/imap/imap_text.h"
#include "proxy/protocol/sasl/sasl.h"

namespace podgate::proxy {

namespace {

using imap::capability_from;

bool has_token(const std::string& capabilities, std::string_view token) {
  std::istringstream words(capabilities);
  std::string word;
  while (words >> word) {
    if (word.size() == token.size() &&
        std::equal(word.begin(), word.end(), token.begin(),
                   [](char a, char b) { return std::toupper(a) == std::toupper(b); })) {
      return true;
    }
  }
  return false;
}

// "<tag> <status>" where status is OK / NO / BAD, case-insensitive.
bool is_tagged(std::string_view line, std::string_view tag, std::string_view status) {
  std::string prefix = std::string(tag) + " " + std::string(status);
  if (line.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::toupper(line[i]) != std::toupper(prefix[i])) return false;
  }
  return line.size() == prefix.size() || line[prefix.size()] == ' ';
}

bool is_tagged_any(std::string_view line, std::string_view tag) {
  return line.size() > tag.size() && line.substr(0, tag.size()) == tag && line[tag.size()] == ' ';
}

constexpr std::string_view kCapabilityTag = "C";
constexpr std::string_view kIdTag = "I";
constexpr std::string_view kLoginTag = "L";
constexpr std::string_view kPostLoginCapabilityTag = "K";

}  // namespace

ImapBackendLogin::ImapBackendLogin(std::string user, std::string password, ClientIdentity client)
    : user_(std::move(user)), password_(std::move(password)), client_(std::move(client)) {}

ImapBackendLogin::~ImapBackendLogin() {
  std::fill(password_.begin(), password_.end(), '\0');
}

std::string ImapBackendLogin::take_output() {
  return std::exchange(output_, {});
}

std::string ImapBackendLogin::take_leftover() {
  return std::exchange(input_, {});
}

ImapBackendLogin::Verdict ImapBackendLogin::unavailable(std::string problem) {
  problem_ = std::move(problem);
  return Verdict::Unavailable;
}

ImapBackendLogin::Verdict ImapBackendLogin::feed(std::string_view bytes) {
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

ImapBackendLogin::Verdict ImapBackendLogin::on_line(std::string_view line) {
  switch (step_) {
    case Step::Greeting:
      return on_greeting(line);
    case Step::PreLoginCapability:
      if (auto capabilities = capability_from(line); !capabilities.empty() && line[0] == '*') {
        capabilities_ = capabilities;
      } else if (is_tagged_any(line, kCapabilityTag)) {
        send_login();
      }
      return step_ == Step::Done ? Verdict::AuthFailed : Verdict::Pending;
    case Step::Login:
      if (line.rfind("* BYE", 0) == 0) return unavailable("pod said BYE during login");
      if (line.rfind("+", 0) == 0) return unavailable("pod asked for an unexpected continuation");
      if (line.rfind("* ", 0) == 0) {
        if (auto capabilities = capability_from(line); !capabilities.empty()) {
          capabilities_ = capabilities;
        }
        return Verdict::Pending;
      }
      if (is_tagged(line, kLoginTag, "OK")) {
        if (auto capabilities = capability_from(line); !capabilities.empty()) {
          capabilities_ = capabilities;
        }
        if (!capabilities_.empty()) {
          step_ = Step::Done;
          return Verdict::LoggedIn;
        }
        // The pod did not say what it offers after login; ask, so the client
        // gets it in the tagged OK as it would from the pod directly.
        output_ += std::string(kPostLoginCapabilityTag) + " CAPABILITY\r\n";
        step_ = Step::PostLoginCapability;
        return Verdict::Pending;
      }
      if (is_tagged(line, kLoginTag, "NO")) {
        step_ = Step::Done;
        if (line.find("[UNAVAILABLE]") != std::string_view::npos) {
          return unavailable("pod answered UNAVAILABLE");
        }
        return Verdict::AuthFailed;
      }
      if (is_tagged_any(line, kLoginTag)) return unavailable("pod rejected the login command");
      return Verdict::Pending;  // the ID answer and anything else untagged
    case Step::PostLoginCapability:
      if (line.rfind("* ", 0) == 0) {
        if (auto capabilities = capability_from(line); !capabilities.empty()) {
          capabilities_ = capabilities;
        }
        return Verdict::Pending;
      }
      if (is_tagged_any(line, kPostLoginCapabilityTag)) {
        step_ = Step::Done;
        return Verdict::LoggedIn;
      }
      return Verdict::Pending;
    case Step::Done:
      break;
  }
  return verdict_;
}

ImapBackendLogin::Verdict ImapBackendLogin::on_greeting(std::string_view line) {
  if (line.rfind("* OK", 0) != 0) {
    return unavailable(line.rfind("* BYE", 0) == 0 ? "pod greeted with BYE"
                                                   : "pod sent no IMAP greeting");
  }
  capabilities_ = capability_from(line);
  if (capabilities_.empty()) {
    output_ += std::string(kCapabilityTag) + " CAPABILITY\r\n";
    step_ = Step::PreLoginCapability;
    return Verdict::Pending;
  }
  send_login();
  return step_ == Step::Done ? Verdict::AuthFailed : Verdict::Pending;
}

void ImapBackendLogin::send_login() {
  if (has_token(capabilities_, "ID")) {
    output_ += std::string(kIdTag) + " ID (\"x-originating-ip\" " + imap::quote(client_.ip) +
               " \"x-originating-port\" \"" + std::to_string(client_.port) +
               "\" \"x-connected-ip\" " + imap::quote(client_.local_ip) +
               " \"x-connected-port\" \"" + std::to_string(client_.local_port) +
               "\" \"x-session-id\" " + imap::quote(client_.session) + ")\r\n";
  }
  if (has_token(capabilities_, "AUTH=PLAIN") && has_token(capabilities_, "SASL-IR")) {
    // One line whatever the password holds: no quoting, no literals.
    output_ += std::string(kLoginTag) + " AUTHENTICATE PLAIN " +
               sasl::base64_encode(sasl::make_plain(user_, password_)) + "\r\n";
  } else if (imap::quotable(user_) && imap::quotable(password_)) {
    output_ += std::string(kLoginTag) + " LOGIN " + imap::quote(user_) + " " +
               imap::quote(password_) + "\r\n";
  } else {
    // Credentials with CR/LF cannot be sent with LOGIN; no pod could accept them.
    step_ = Step::Done;
    return;
  }
  std::fill(password_.begin(), password_.end(), '\0');
  capabilities_.clear();
  step_ = Step::Login;
}

}  // namespace podgate::proxy
