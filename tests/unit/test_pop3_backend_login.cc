// The POP3 pod dialogue, fed with a transcript of Dovecot 2.3 (captured from
// a pod in the integration fixture) and with pods that misbehave.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "proxy/protocol/sasl/sasl.h"
#include "proxy/session/pop3_backend_login.h"

using podgate::Secret;
using podgate::proxy::ClientIdentity;
using podgate::proxy::Credentials;
using podgate::proxy::LoginOutcome;
using podgate::proxy::Pop3BackendLogin;

namespace {

const char* kGreeting = "+OK [XCLIENT] pod-1 ready.\r\n";
const char* kCapa =
    "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\n"
    "SASL PLAIN LOGIN\r\n.\r\n";

Credentials credentials(std::string password = "pw with spaces") {
  return Credentials{"alice@example.com", Secret(std::move(password))};
}

ClientIdentity client() {
  return ClientIdentity{"192.0.2.7", 40000, "127.0.0.1", 995, "sess1"};
}

std::string sent(Pop3BackendLogin& login) {
  return std::string(login.take_output().view());
}

}  // namespace

TEST_CASE("Dovecot POP3 login: CAPA, XCLIENT with the client address, AUTH PLAIN", "[pop3_login]") {
  Credentials given = credentials();
  Pop3BackendLogin login(given, client());
  CHECK_FALSE(login.feed(kGreeting));
  CHECK(sent(login) == "CAPA\r\n");
  CHECK_FALSE(login.feed(kCapa));
  CHECK(sent(login) == "XCLIENT ADDR=192.0.2.7 PORT=40000 SESSION=sess1\r\n");
  CHECK_FALSE(login.credentials_sent());
  CHECK_FALSE(login.feed("+OK Updated\r\n"));
  CHECK(sent(login) == "AUTH PLAIN " +
                           podgate::sasl::base64_encode(
                               podgate::sasl::make_plain("alice@example.com", "pw with spaces")) +
                           "\r\n");
  CHECK(login.credentials_sent());
  CHECK(login.feed("+OK Logged in.\r\n+OK 1 278\r\n") == LoginOutcome::LoggedIn);
  CHECK(login.take_leftover() == "+OK 1 278\r\n");
}

TEST_CASE("The POP3 verdict does not depend on how the pod's bytes are split", "[pop3_login]") {
  std::string transcript =
      std::string(kGreeting) + kCapa + "+OK Updated\r\n" + "-ERR [AUTH] Authentication failed.\r\n";
  Credentials given = credentials();
  Pop3BackendLogin login(given, client());
  std::optional<LoginOutcome> verdict;
  for (char c : transcript) {
    verdict = login.feed(std::string_view(&c, 1));
    login.take_output();
    if (verdict) break;
  }
  CHECK(verdict == LoginOutcome::WrongPassword);
}

TEST_CASE("A plain RFC 1939 pod gets USER and PASS", "[pop3_login]") {
  Credentials given = credentials();
  Pop3BackendLogin login(given, client());
  login.feed("+OK ready\r\n");
  login.take_output();
  CHECK_FALSE(login.feed("-ERR unknown command\r\n"));
  CHECK(sent(login) == "USER alice@example.com\r\n");
  CHECK_FALSE(login.credentials_sent());
  CHECK_FALSE(login.feed("+OK\r\n"));
  CHECK(sent(login) == "PASS pw with spaces\r\n");
  CHECK(login.credentials_sent());
  CHECK(login.feed("+OK maildrop ready\r\n") == LoginOutcome::LoggedIn);

  // Such a pod may refuse an unknown user at USER: a verdict on the name.
  Pop3BackendLogin refused(given, client());
  refused.feed("+OK ready\r\n-ERR unknown command\r\n");
  CHECK(refused.feed("-ERR no such mailbox\r\n") == LoginOutcome::UnknownUser);
  CHECK_FALSE(refused.credentials_sent());
  Pop3BackendLogin busy(given, client());
  busy.feed("+OK ready\r\n-ERR unknown command\r\n");
  CHECK(busy.feed("-ERR [IN-USE] locked\r\n") == LoginOutcome::PodFault);
}

TEST_CASE("A pod whose CAPA offers neither USER nor SASL PLAIN gets no credentials",
          "[pop3_login]") {
  // Dovecot before TLS with disable_plaintext_auth: USER would be refused with
  // -ERR [AUTH], which must not count as a wrong password.
  Credentials given = credentials();
  Pop3BackendLogin login(given, client());
  login.feed("+OK ready\r\n");
  CHECK(login.feed("+OK\r\nCAPA\r\nSTLS\r\nSASL\r\n.\r\n") == LoginOutcome::PodFault);
  CHECK_FALSE(login.credentials_sent());
  CHECK(sent(login) == "CAPA\r\n");
}

TEST_CASE("POP3 response codes pick the outcome", "[pop3_login]") {
  auto answer = [](const char* line) {
    Credentials given = credentials();
    Pop3BackendLogin login(given, client());
    login.feed("+OK ready\r\n");  // no XCLIENT: AUTH follows CAPA
    login.feed("+OK\r\nSASL PLAIN\r\n.\r\n");
    return login.feed(line);
  };
  CHECK(answer("-ERR [AUTH] Authentication failed.\r\n") == LoginOutcome::WrongPassword);
  CHECK(answer("-ERR Authentication failed.\r\n") == LoginOutcome::WrongPassword);
  CHECK(answer("-ERR [IN-USE] Mailbox is locked.\r\n") == LoginOutcome::InUse);
  for (const char* fault : {"-ERR [SYS/TEMP] Try later.\r\n", "-ERR [SYS/PERM] Broken.\r\n",
                            "-ERR [LOGIN-DELAY] Wait.\r\n", "+ \r\n", "* OK imap?\r\n"}) {
    INFO(fault);
    CHECK(answer(fault) == LoginOutcome::PodFault);
  }

  Credentials given = credentials();
  Pop3BackendLogin refused(given, client());
  CHECK(refused.feed("-ERR [SYS/TEMP] too busy\r\n") == LoginOutcome::PodFault);
  CHECK_FALSE(refused.credentials_sent());
  Pop3BackendLogin endless(given, client());
  CHECK(endless.feed(std::string(Pop3BackendLogin::kMaxLineBytes + 10, 'x')) ==
        LoginOutcome::PodFault);
  // An endless CAPA list: the dialogue's budget ends it.
  Pop3BackendLogin capa(given, client());
  capa.feed("+OK ready\r\n+OK\r\n");
  std::optional<LoginOutcome> verdict;
  for (int i = 0; i < 100000 && !verdict; ++i) verdict = capa.feed("X-CAPABILITY-LINE\r\n");
  CHECK(verdict == LoginOutcome::PodFault);
}
