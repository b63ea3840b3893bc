// The one table of what a pod's login answer means (proxy/protocol/pod_verdict.h).
#include <catch2/catch.hpp>

#include <string>

#include "proxy/login_outcome.h"
#include "proxy/protocol/pod_verdict.h"

using podgate::proxy::answer_summary;
using podgate::proxy::imap_login_verdict;
using podgate::proxy::LoginOutcome;
using podgate::proxy::pop3_login_verdict;
using podgate::proxy::response_code;
using podgate::proxy::smtp_auth_verdict;

TEST_CASE("IMAP: only AUTHENTICATIONFAILED and a bare NO are wrong passwords", "[pod_verdict]") {
  CHECK(imap_login_verdict("OK [CAPABILITY IMAP4rev1] Logged in") == LoginOutcome::LoggedIn);
  CHECK(imap_login_verdict("OK") == LoginOutcome::LoggedIn);
  CHECK(imap_login_verdict("NO [AUTHENTICATIONFAILED] Authentication failed.") ==
        LoginOutcome::WrongPassword);
  CHECK(imap_login_verdict("NO Authentication failed.") == LoginOutcome::WrongPassword);
  CHECK(imap_login_verdict("NO") == LoginOutcome::WrongPassword);
  CHECK(imap_login_verdict("no [AuthenticationFailed] case does not matter") ==
        LoginOutcome::WrongPassword);
  CHECK(imap_login_verdict("NO [INUSE] Mailbox in use") == LoginOutcome::InUse);
  for (const char* fault :
       {"NO [UNAVAILABLE] Try later", "NO [SERVERBUG] Internal error", "NO [LIMIT] Too many",
        "NO [AUTHORIZATIONFAILED] No", "NO [EXPIRED] Password expired",
        "NO [PRIVACYREQUIRED] TLS first", "NO [SOMETHING-NEW x y] ?", "BAD Error in IMAP command",
        "PREAUTH", "", "* OK"}) {
    INFO(fault);
    CHECK(imap_login_verdict(fault) == LoginOutcome::PodFault);
  }
}

TEST_CASE("POP3: only [AUTH] and a bare -ERR are wrong passwords", "[pod_verdict]") {
  CHECK(pop3_login_verdict("+OK Logged in.") == LoginOutcome::LoggedIn);
  CHECK(pop3_login_verdict("-ERR [AUTH] Authentication failed.") == LoginOutcome::WrongPassword);
  CHECK(pop3_login_verdict("-ERR Authentication failed.") == LoginOutcome::WrongPassword);
  CHECK(pop3_login_verdict("-ERR") == LoginOutcome::WrongPassword);
  CHECK(pop3_login_verdict("-ERR [IN-USE] Locked") == LoginOutcome::InUse);
  for (const char* fault : {"-ERR [SYS/TEMP] Try later", "-ERR [SYS/PERM] Broken",
                            "-ERR [LOGIN-DELAY] Slow down", "+ ", "OK", ""}) {
    INFO(fault);
    CHECK(pop3_login_verdict(fault) == LoginOutcome::PodFault);
  }
}

TEST_CASE("SMTP: only 535 is a wrong password", "[pod_verdict]") {
  CHECK(smtp_auth_verdict(235) == LoginOutcome::LoggedIn);
  CHECK(smtp_auth_verdict(535) == LoginOutcome::WrongPassword);
  for (int code : {454, 421, 534, 530, 538, 501, 500, 504, 334, 250, 554, 999}) {
    INFO(code);
    CHECK(smtp_auth_verdict(code) == LoginOutcome::PodFault);
  }
}

TEST_CASE("Response codes and log summaries of pod answers", "[pod_verdict]") {
  CHECK(response_code("NO [UNAVAILABLE] x", 2) == "UNAVAILABLE");
  CHECK(response_code("NO [BADCHARSET (UTF-8)] x", 2) == "BADCHARSET");
  CHECK(response_code("-ERR [SYS/TEMP] x", 4) == "SYS/TEMP");
  CHECK(response_code("NO x [UNAVAILABLE]", 2) == "");
  CHECK(response_code("NO [", 2) == "");
  CHECK(response_code("NO []", 2) == "");
  CHECK(answer_summary("NO [UNAVAILABLE] user alice@example.com is busy") == "NO [UNAVAILABLE]");
  CHECK(answer_summary("-ERR [SYS/TEMP] alice") == "-ERR [SYS/TEMP]");
  CHECK(answer_summary("NO\r[X\nY]") == "NO?[X?Y]");
}

TEST_CASE("Each outcome is counted where it belongs", "[pod_verdict]") {
  using podgate::proxy::counts_as_refusal;
  using podgate::proxy::is_pod_fault;
  using podgate::proxy::is_right_guess;
  using podgate::proxy::is_wrong_guess;
  CHECK(is_wrong_guess(LoginOutcome::WrongPassword));
  CHECK(is_wrong_guess(LoginOutcome::UnknownUser));
  CHECK(is_wrong_guess(LoginOutcome::DirectoryRefused));
  CHECK_FALSE(is_wrong_guess(LoginOutcome::PodFault));
  CHECK_FALSE(is_wrong_guess(LoginOutcome::InUse));
  CHECK_FALSE(is_wrong_guess(LoginOutcome::LockedOut));
  CHECK(is_right_guess(LoginOutcome::Disabled));
  CHECK(counts_as_refusal(LoginOutcome::MalformedCredentials));
  CHECK(counts_as_refusal(LoginOutcome::Disabled));
  CHECK_FALSE(counts_as_refusal(LoginOutcome::PodFault));
  CHECK_FALSE(counts_as_refusal(LoginOutcome::PodTimeout));
  CHECK_FALSE(counts_as_refusal(LoginOutcome::InUse));
  CHECK(is_pod_fault(LoginOutcome::PodTimeout));
  CHECK_FALSE(is_pod_fault(LoginOutcome::PodUnreachable));
  // A password refused by policy, unchecked: answered like a wrong one (and
  // counted by max_auth_attempts), but no guess the guard should count.
  CHECK_FALSE(is_wrong_guess(LoginOutcome::BasicAuthOff));
  CHECK(counts_as_refusal(LoginOutcome::BasicAuthOff));
  CHECK(podgate::proxy::answered_as_auth_failure(LoginOutcome::BasicAuthOff));
  CHECK(std::string(podgate::proxy::result_name(LoginOutcome::BasicAuthOff)) == "policy");
}
