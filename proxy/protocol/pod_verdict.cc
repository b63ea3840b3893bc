#include "proxy/protocol/pod_verdict.h"

#include <algorithm>
#include <array>

#include "core/log_text.h"
#include "proxy/protocol/ascii.h"

namespace podgate::proxy {

namespace {

// A rule matches an answer's status word and its response code; the first
// rule that matches decides. kAny matches anything, kNone an answer without
// a response code.
constexpr std::string_view kAny = "*";
constexpr std::string_view kNone = "";

struct Rule {
  std::string_view status;
  std::string_view code;
  LoginOutcome outcome;
};

// RFC 9051 section 7.1 response codes; Dovecot answers a wrong password with
// [AUTHENTICATIONFAILED], older servers with a bare NO.
constexpr std::array kImapRules{
    Rule{"OK", kAny, LoginOutcome::LoggedIn},
    Rule{"NO", "AUTHENTICATIONFAILED", LoginOutcome::WrongPassword},
    Rule{"NO", kNone, LoginOutcome::WrongPassword}, Rule{"NO", "INUSE", LoginOutcome::InUse},
    // UNAVAILABLE, SERVERBUG, LIMIT, AUTHORIZATIONFAILED, EXPIRED, PRIVACYREQUIRED...
    Rule{"NO", kAny, LoginOutcome::PodFault},
    Rule{kAny, kAny, LoginOutcome::PodFault},  // BAD, or not an answer at all
};

// RFC 2449 / RFC 3206 response codes; RFC 1939 servers say a bare -ERR.
constexpr std::array kPop3Rules{
    Rule{"+OK", kAny, LoginOutcome::LoggedIn},
    Rule{"-ERR", "AUTH", LoginOutcome::WrongPassword},
    Rule{"-ERR", kNone, LoginOutcome::WrongPassword},
    Rule{"-ERR", "IN-USE", LoginOutcome::InUse},
    // SYS/TEMP, SYS/PERM, LOGIN-DELAY...
    Rule{"-ERR", kAny, LoginOutcome::PodFault},
    Rule{kAny, kAny, LoginOutcome::PodFault},
};

// The status word: what comes before the first space (or the whole answer).
std::string_view status_of(std::string_view answer) {
  return answer.substr(0, answer.find(' '));
}

template <std::size_t N>
LoginOutcome first_match(const std::array<Rule, N>& rules, std::string_view answer) {
  std::string_view status = status_of(answer);
  std::string_view code = response_code(answer, status.size());
  for (const Rule& rule : rules) {
    bool status_matches = rule.status == kAny || protocol::iequals(rule.status, status);
    bool code_matches = rule.code == kAny || protocol::iequals(rule.code, code);
    if (status_matches && code_matches) return rule.outcome;
  }
  return LoginOutcome::PodFault;
}

}  // namespace

std::string_view response_code(std::string_view answer, std::size_t status_length) {
  std::string_view rest = answer.substr(std::min(status_length, answer.size()));
  if (rest.size() < 3 || rest[0] != ' ' || rest[1] != '[') return kNone;
  rest.remove_prefix(2);
  // "[SYS/TEMP]", or "[CODE arguments]" (IMAP codes may carry arguments).
  std::size_t end = rest.find_first_of("] ");
  if (end == std::string_view::npos || end == 0) return kNone;
  return rest.substr(0, end);
}

std::string answer_summary(std::string_view answer) {
  std::string_view status = status_of(answer);
  std::string_view code = response_code(answer, status.size());
  std::string summary = core::log_safe(status, 16);
  if (!code.empty()) {
    summary += " [";
    summary += core::log_safe(code, 32);
    summary += ']';
  }
  return summary;
}

LoginOutcome imap_login_verdict(std::string_view answer) {
  return first_match(kImapRules, answer);
}

LoginOutcome pop3_login_verdict(std::string_view answer) {
  return first_match(kPop3Rules, answer);
}

LoginOutcome smtp_auth_verdict(int code) {
  switch (code) {
    case 235:  // RFC 4954: authentication succeeded
      return LoginOutcome::LoggedIn;
    case 535:  // RFC 4954: authentication credentials invalid
      return LoginOutcome::WrongPassword;
    default:
      // 454 (temporary failure), 421 (closing), 534 (mechanism too weak),
      // 530, 501, 500...: nothing about the password.
      return LoginOutcome::PodFault;
  }
}

}  // namespace podgate::proxy
