// The pod side of the login hop, fed with transcripts of real Dovecot
// answers and of pods that misbehave.
#include <catch2/catch.hpp>

#include "proxy/protocol/sasl/sasl.h"
#include "proxy/session/imap_backend_login.h"

using podgate::proxy::ClientIdentity;
using podgate::proxy::ImapBackendLogin;
using Verdict = ImapBackendLogin::Verdict;

namespace {

const char* kDovecotGreeting =
    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN "
    "AUTH=LOGIN] Dovecot (Debian) ready.\r\n";

ImapBackendLogin make_login(std::string password = "s3cret pass") {
  return ImapBackendLogin("alice@example.com", std::move(password),
                          ClientIdentity{"192.0.2.7", 40000, "127.0.0.1", 993, "sess1"});
}

// Feeds the transcript one byte at a time; returns the first final verdict.
Verdict feed_bytewise(ImapBackendLogin& login, std::string_view transcript) {
  Verdict verdict = Verdict::Pending;
  for (char c : transcript) {
    verdict = login.feed(std::string_view(&c, 1));
    if (verdict != Verdict::Pending) break;
  }
  return verdict;
}

}  // namespace

TEST_CASE("Dovecot login: ID with the client address, then SASL-IR PLAIN", "[backend_login]") {
  auto login = make_login();
  CHECK(login.feed(kDovecotGreeting) == Verdict::Pending);
  std::string sent = login.take_output();
  CHECK(sent.find("I ID (\"x-originating-ip\" \"192.0.2.7\" \"x-originating-port\" \"40000\"") ==
        0);
  std::string expected_auth =
      "L AUTHENTICATE PLAIN " +
      podgate::sasl::base64_encode(std::string("\0alice@example.com\0s3cret pass", 30)) + "\r\n";
  CHECK(sent.ends_with(expected_auth));

  Verdict verdict = login.feed(
      "* ID (\"name\" \"Dovecot\")\r\nI OK ID completed.\r\n"
      "L OK [CAPABILITY IMAP4rev1 IDLE MOVE] Logged in\r\n* 3 EXISTS\r\n");
  CHECK(verdict == Verdict::LoggedIn);
  CHECK(login.capabilities() == "IMAP4rev1 IDLE MOVE");
  CHECK(login.take_leftover() == "* 3 EXISTS\r\n");
}

TEST_CASE("The verdict does not depend on how the pod's bytes are split", "[backend_login]") {
  std::string transcript = std::string(kDovecotGreeting) +
                           "I OK ID completed.\r\nL OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n";
  auto login = make_login();
  CHECK(feed_bytewise(login, transcript) == Verdict::LoggedIn);
  CHECK(login.capabilities() == "IMAP4rev1 IDLE");
}

TEST_CASE("Wrong password and temporary failures are told apart", "[backend_login]") {
  auto refused = make_login();
  refused.feed(kDovecotGreeting);
  CHECK(refused.feed("L NO [AUTHENTICATIONFAILED] Authentication failed.\r\n") ==
        Verdict::AuthFailed);

  auto busy = make_login();
  busy.feed(kDovecotGreeting);
  CHECK(busy.feed("L NO [UNAVAILABLE] Internal error\r\n") == Verdict::Unavailable);

  auto bye = make_login();
  CHECK(bye.feed("* BYE Too many connections\r\n") == Verdict::Unavailable);

  auto garbage = make_login();
  CHECK(garbage.feed("220 smtp.example.com ESMTP\r\n") == Verdict::Unavailable);

  auto endless = make_login();
  CHECK(endless.feed(std::string(ImapBackendLogin::kMaxLineBytes + 10, 'x')) ==
        Verdict::Unavailable);
}

TEST_CASE("A pod without SASL-IR gets LOGIN with quoted strings", "[backend_login]") {
  auto login = make_login("pa\"ss\\word");
  login.feed("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n");
  CHECK(login.take_output() == "L LOGIN \"alice@example.com\" \"pa\\\"ss\\\\word\"\r\n");
}

TEST_CASE("Capabilities are asked for when the pod does not volunteer them", "[backend_login]") {
  auto login = make_login();
  CHECK(login.feed("* OK ready\r\n") == Verdict::Pending);
  CHECK(login.take_output() == "C CAPABILITY\r\n");
  login.feed("* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN\r\nC OK done\r\n");
  CHECK(login.take_output().rfind("L AUTHENTICATE PLAIN ", 0) == 0);
  CHECK(login.feed("L OK Logged in\r\n") == Verdict::Pending);
  CHECK(login.take_output() == "K CAPABILITY\r\n");
  CHECK(login.feed("* CAPABILITY IMAP4rev1 IDLE\r\nK OK done\r\n") == Verdict::LoggedIn);
  CHECK(login.capabilities() == "IMAP4rev1 IDLE");
}
