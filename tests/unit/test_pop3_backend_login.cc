// The POP3 pod dialogue, fed with a transcript of Dovecot 2.3 (captured from
// a pod in the integration fixture) and with pods that misbehave.
#include <catch2/catch.hpp>

#include "proxy/protocol/sasl/sasl.h"
#include "proxy/session/pop3_backend_login.h"

using podgate::proxy::ClientIdentity;
using podgate::proxy::Pop3BackendLogin;
using Verdict = Pop3BackendLogin::Verdict;

namespace {

const char* kGreeting = "+OK [XCLIENT] pod-1 ready.\r\n";
const char* kCapa =
    "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\n"
    "SASL PLAIN LOGIN\r\n.\r\n";

Pop3BackendLogin make_login(std::string password = "pw with spaces") {
  return Pop3BackendLogin("alice@example.com", std::move(password),
                          ClientIdentity{"192.0.2.7", 40000, "127.0.0.1", 995, "sess1"});
}

}  // namespace

TEST_CASE("Dovecot POP3 login: CAPA, XCLIENT with the client address, AUTH PLAIN", "[pop3_login]") {
  auto login = make_login();
  CHECK(login.feed(kGreeting) == Verdict::Pending);
  CHECK(login.take_output() == "CAPA\r\n");
  CHECK(login.feed(kCapa) == Verdict::Pending);
  CHECK(login.take_output() == "XCLIENT ADDR=192.0.2.7 PORT=40000 SESSION=sess1\r\n");
  CHECK(login.feed("+OK Updated\r\n") == Verdict::Pending);
  CHECK(login.take_output() ==
        "AUTH PLAIN " +
            podgate::sasl::base64_encode(podgate::sasl::make_plain("alice@example.com",
                                                                   "pw with spaces")) +
            "\r\n");
  CHECK(login.feed("+OK Logged in.\r\n+OK 1 278\r\n") == Verdict::LoggedIn);
  CHECK(login.take_leftover() == "+OK 1 278\r\n");
}

TEST_CASE("The POP3 verdict does not depend on how the pod's bytes are split", "[pop3_login]") {
  std::string transcript =
      std::string(kGreeting) + kCapa + "+OK Updated\r\n" + "-ERR [AUTH] Authentication failed.\r\n";
  auto login = make_login();
  Verdict verdict = Verdict::Pending;
  for (char c : transcript) {
    verdict = login.feed(std::string_view(&c, 1));
    login.take_output();
    if (verdict != Verdict::Pending) break;
  }
  CHECK(verdict == Verdict::AuthFailed);
}

TEST_CASE("A plain RFC 1939 pod gets USER and PASS", "[pop3_login]") {
  auto login = make_login();
  login.feed("+OK ready\r\n");
  login.take_output();
  CHECK(login.feed("-ERR unknown command\r\n") == Verdict::Pending);
  CHECK(login.take_output() == "USER alice@example.com\r\n");
  CHECK(login.feed("+OK\r\n") == Verdict::Pending);
  CHECK(login.take_output() == "PASS pw with spaces\r\n");
  CHECK(login.feed("+OK maildrop ready\r\n") == Verdict::LoggedIn);
}

TEST_CASE("POP3 response codes pick the failure", "[pop3_login]") {
  auto answer = [](const char* line) {
    auto login = make_login();
    login.feed("+OK ready\r\n");  // no XCLIENT: AUTH follows CAPA
    login.feed("+OK\r\nSASL PLAIN\r\n.\r\n");
    return login.feed(line);
  };
  CHECK(answer("-ERR [AUTH] Authentication failed.\r\n") == Verdict::AuthFailed);
  CHECK(answer("-ERR Authentication failed.\r\n") == Verdict::AuthFailed);
  CHECK(answer("-ERR [SYS/TEMP] Try later.\r\n") == Verdict::Unavailable);
  CHECK(answer("-ERR [IN-USE] Mailbox is locked.\r\n") == Verdict::InUse);
  CHECK(answer("+ \r\n") == Verdict::Unavailable);

  auto refused = make_login();
  CHECK(refused.feed("-ERR [SYS/TEMP] too busy\r\n") == Verdict::Unavailable);
  auto endless = make_login();
  CHECK(endless.feed(std::string(Pop3BackendLogin::kMaxLineBytes + 10, 'x')) ==
        Verdict::Unavailable);
}
