// The pod side of the login hop, fed with transcripts of real Dovecot
// answers and of pods that misbehave.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "proxy/protocol/sasl/sasl.h"
#include "proxy/session/imap_backend_login.h"

using podgate::Secret;
using podgate::proxy::ClientIdentity;
using podgate::proxy::Credentials;
using podgate::proxy::ImapBackendLogin;
using podgate::proxy::LoginOutcome;

namespace {

const char* kDovecotGreeting =
    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN "
    "AUTH=LOGIN] Dovecot (Debian) ready.\r\n";

Credentials credentials(std::string password = "s3cret pass") {
  return Credentials{"alice@example.com", Secret(std::move(password))};
}

ClientIdentity client() {
  return ClientIdentity{"192.0.2.7", 40000, "127.0.0.1", 993, "sess1"};
}

std::string sent(ImapBackendLogin& login) {
  return std::string(login.take_output().view());
}

// Feeds the transcript one byte at a time; returns the first final verdict.
std::optional<LoginOutcome> feed_bytewise(ImapBackendLogin& login, std::string_view transcript) {
  for (char c : transcript) {
    if (auto verdict = login.feed(std::string_view(&c, 1))) return verdict;
  }
  return std::nullopt;
}

// The verdict on `answer` to the login, after Dovecot's greeting.
std::optional<LoginOutcome> verdict_on(std::string_view answer) {
  Credentials given = credentials();
  ImapBackendLogin login(given, client());
  login.feed(kDovecotGreeting);
  return login.feed(answer);
}

}  // namespace

TEST_CASE("Dovecot login: ID with the client address, then SASL-IR PLAIN", "[backend_login]") {
  Credentials given = credentials();
  ImapBackendLogin login(given, client());
  CHECK_FALSE(login.feed(kDovecotGreeting));
  CHECK(login.credentials_sent());
  std::string output = sent(login);
  CHECK(output.find("I ID (\"x-originating-ip\" \"192.0.2.7\" \"x-originating-port\" \"40000\"") ==
        0);
  std::string expected_auth =
      "L AUTHENTICATE PLAIN " +
      podgate::sasl::base64_encode(std::string("\0alice@example.com\0s3cret pass", 30)) + "\r\n";
  CHECK(output.ends_with(expected_auth));

  auto verdict = login.feed(
      "* ID (\"name\" \"Dovecot\")\r\nI OK ID completed.\r\n"
      "L OK [CAPABILITY IMAP4rev1 IDLE MOVE] Logged in\r\n* 3 EXISTS\r\n");
  CHECK(verdict == LoginOutcome::LoggedIn);
  CHECK(login.capabilities() == "IMAP4rev1 IDLE MOVE");
  CHECK(login.take_leftover() == "* 3 EXISTS\r\n");
}

TEST_CASE("The verdict does not depend on how the pod's bytes are split", "[backend_login]") {
  std::string transcript = std::string(kDovecotGreeting) +
                           "I OK ID completed.\r\nL OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n";
  Credentials given = credentials();
  ImapBackendLogin login(given, client());
  CHECK(feed_bytewise(login, transcript) == LoginOutcome::LoggedIn);
  CHECK(login.capabilities() == "IMAP4rev1 IDLE");
}

TEST_CASE("Only the pod's explicit authentication failure is a wrong password", "[backend_login]") {
  CHECK(verdict_on("L NO [AUTHENTICATIONFAILED] Authentication failed.\r\n") ==
        LoginOutcome::WrongPassword);
  CHECK(verdict_on("L NO Login failed\r\n") == LoginOutcome::WrongPassword);
  CHECK(verdict_on("l no [authenticationfailed] lower case\r\n") == std::nullopt);  // not our tag
  CHECK(verdict_on("L no [authenticationfailed] lower case\r\n") == LoginOutcome::WrongPassword);
  CHECK(verdict_on("L NO [INUSE] Mailbox is locked\r\n") == LoginOutcome::InUse);
  for (const char* fault :
       {"L NO [UNAVAILABLE] Internal error\r\n", "L NO [SERVERBUG] Oops\r\n",
        "L NO [LIMIT] Too many sessions\r\n", "L NO [AUTHORIZATIONFAILED] Not allowed\r\n",
        "L NO [EXPIRED] Password expired\r\n", "L BAD Unknown command\r\n", "L WHAT?\r\n",
        "* BYE Server shutting down\r\n", "+ go ahead\r\n"}) {
    INFO(fault);
    CHECK(verdict_on(fault) == LoginOutcome::PodFault);
  }
}

TEST_CASE("A pod that greets wrongly fails before it has the credentials", "[backend_login]") {
  for (const char* greeting :
       {"* BYE Too many connections\r\n", "220 smtp.example.com ESMTP\r\n"}) {
    Credentials given = credentials();
    ImapBackendLogin login(given, client());
    CHECK(login.feed(greeting) == LoginOutcome::PodFault);
    CHECK_FALSE(login.credentials_sent());
    CHECK(login.take_output().empty());
  }
}

TEST_CASE("What a pod sends before its verdict is bounded", "[backend_login]") {
  Credentials given = credentials();
  ImapBackendLogin endless_line(given, client());
  CHECK(endless_line.feed(std::string(ImapBackendLogin::kMaxLineBytes + 10, 'x')) ==
        LoginOutcome::PodFault);

  // Many short untagged lines, never a verdict: the dialogue's budget ends it.
  ImapBackendLogin chatty(given, client());
  chatty.feed(kDovecotGreeting);
  std::optional<LoginOutcome> verdict;
  std::size_t sent_bytes = 0;
  while (!verdict && sent_bytes < 2 * ImapBackendLogin::kMaxDialogueBytes) {
    verdict = chatty.feed("* OK Still here\r\n");
    sent_bytes += 17;
  }
  CHECK(verdict == LoginOutcome::PodFault);
  CHECK(sent_bytes <= ImapBackendLogin::kMaxDialogueBytes + 17);
  CHECK(chatty.problem().find("before its login answer") != std::string::npos);
}

TEST_CASE("A pod with AUTH=PLAIN but no SASL-IR gets the payload after its +", "[backend_login]") {
  Credentials given = credentials();
  ImapBackendLogin login(given, client());
  login.feed("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n");
  CHECK(sent(login) == "L AUTHENTICATE PLAIN\r\n");
  CHECK_FALSE(login.credentials_sent());
  CHECK_FALSE(login.feed("+ \r\n"));
  CHECK(sent(login) ==
        podgate::sasl::base64_encode(std::string("\0alice@example.com\0s3cret pass", 30)) + "\r\n");
  CHECK(login.credentials_sent());
  CHECK(login.feed("L NO [AUTHENTICATIONFAILED] Authentication failed.\r\n") ==
        LoginOutcome::WrongPassword);

  // Refused before the "+": nothing was said about the password.
  ImapBackendLogin early(given, client());
  early.feed("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n");
  CHECK(early.feed("L NO Not now\r\n") == LoginOutcome::PodFault);
  CHECK_FALSE(early.credentials_sent());
}

TEST_CASE("A pod without AUTH=PLAIN gets LOGIN with quoted strings, unless LOGINDISABLED",
          "[backend_login]") {
  Credentials given = credentials("pa\"ss\\word");
  ImapBackendLogin login(given, client());
  login.feed("* OK [CAPABILITY IMAP4rev1 AUTH=CRAM-MD5] ready\r\n");
  CHECK(sent(login) == "L LOGIN \"alice@example.com\" \"pa\\\"ss\\\\word\"\r\n");

  ImapBackendLogin disabled(given, client());
  CHECK(disabled.feed("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n") ==
        LoginOutcome::PodFault);
  CHECK_FALSE(disabled.credentials_sent());
  CHECK(sent(disabled).find("LOGIN") == std::string::npos);

  // A password LOGIN cannot carry, to a pod that offers nothing else.
  Credentials with_newline = credentials("two\r\nlines");
  ImapBackendLogin unquotable(with_newline, client());
  CHECK(unquotable.feed("* OK [CAPABILITY IMAP4rev1] ready\r\n") ==
        LoginOutcome::MalformedCredentials);
  CHECK_FALSE(unquotable.credentials_sent());
}

TEST_CASE("Capabilities are asked for when the pod does not volunteer them", "[backend_login]") {
  Credentials given = credentials();
  ImapBackendLogin login(given, client());
  CHECK_FALSE(login.feed("* OK ready\r\n"));
  CHECK(sent(login) == "C CAPABILITY\r\n");
  login.feed("* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN\r\nC OK done\r\n");
  CHECK(sent(login).rfind("L AUTHENTICATE PLAIN ", 0) == 0);
  CHECK_FALSE(login.feed("L OK Logged in\r\n"));
  CHECK(sent(login) == "K CAPABILITY\r\n");
  CHECK(login.feed("* CAPABILITY IMAP4rev1 IDLE\r\nK OK done\r\n") == LoginOutcome::LoggedIn);
  CHECK(login.capabilities() == "IMAP4rev1 IDLE");
}

TEST_CASE("Capabilities are matched without regard to case, and 8-bit bytes are harmless",
          "[backend_login]") {
  Credentials given = credentials();
  ImapBackendLogin login(given, client());
  // Lower case tokens, and bytes above 0x7f around them (std::toupper on
  // such a char would be undefined).
  CHECK_FALSE(login.feed("* OK [CAPABILITY imap4rev1 sasl-ir auth=plain \xc3\xa9\xff] ready\r\n"));
  CHECK(sent(login).rfind("L AUTHENTICATE PLAIN ", 0) == 0);
  CHECK(login.feed("L ok [capability IMAP4rev1 \xfe] Logged in\r\n") == LoginOutcome::LoggedIn);
}
