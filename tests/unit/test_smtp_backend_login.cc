// The SMTP pod dialogue, fed with Postfix-style transcripts and with pods
// that misbehave.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "proxy/protocol/sasl/sasl.h"
#include "proxy/session/smtp_backend_login.h"

using podgate::Secret;
using podgate::proxy::ClientIdentity;
using podgate::proxy::Credentials;
using podgate::proxy::LoginOutcome;
using podgate::proxy::SmtpBackendLogin;
using Mechanism = SmtpBackendLogin::Mechanism;
namespace sasl = podgate::sasl;

namespace {

const char* kEhlo =
    "250-pod-1.example.com\r\n250-PIPELINING\r\n250-SIZE 31457280\r\n250-ETRN\r\n"
    "250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
    "250-XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT\r\n"
    "250 SMTPUTF8\r\n";

const Credentials& credentials() {
  static const Credentials given{"alice@example.com", Secret(std::string_view("pass word"))};
  return given;
}

SmtpBackendLogin make_login(Mechanism mechanism = Mechanism::Plain) {
  return SmtpBackendLogin(credentials(),
                          ClientIdentity{"192.0.2.7", 40000, "127.0.0.1", 587, "sess1"},
                          "client.example.net", mechanism);
}

std::string sent(SmtpBackendLogin& login) {
  return std::string(login.take_output().view());
}

}  // namespace

TEST_CASE("Postfix submission: EHLO, XCLIENT, EHLO again, AUTH PLAIN", "[smtp_login]") {
  auto login = make_login();
  CHECK_FALSE(login.feed("220 pod-1 ESMTP Postfix\r\n"));
  CHECK(sent(login) == "EHLO client.example.net\r\n");
  CHECK_FALSE(login.feed(kEhlo));
  CHECK(sent(login) == "XCLIENT ADDR=192.0.2.7 PORT=40000 HELO=client.example.net\r\n");
  CHECK_FALSE(login.feed("220 pod-1 ESMTP Postfix\r\n"));
  CHECK(sent(login) == "EHLO client.example.net\r\n");
  CHECK_FALSE(login.feed(kEhlo));
  CHECK(sent(login) == "AUTH PLAIN " +
                           sasl::base64_encode(sasl::make_plain("alice@example.com", "pass word")) +
                           "\r\n");
  CHECK(login.feed("235 2.7.0 Authentication successful\r\n250 2.1.0 Ok\r\n") ==
        LoginOutcome::LoggedIn);
  CHECK(login.take_leftover() == "250 2.1.0 Ok\r\n");
  CHECK(login.extensions().front() == "PIPELINING");
}

TEST_CASE("AUTH LOGIN is used where the directory asks for it", "[smtp_login]") {
  auto login = make_login(Mechanism::Login);
  std::string transcript = std::string("220 pod\r\n") +
                           "250-pod\r\n250 AUTH LOGIN\r\n" +  // no XCLIENT offered
                           "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n";
  std::optional<LoginOutcome> verdict;
  std::string output;
  for (char c : transcript) {  // byte by byte: replies may arrive split anywhere
    verdict = login.feed(std::string_view(&c, 1));
    output += sent(login);
  }
  CHECK_FALSE(verdict);
  CHECK(output == "EHLO client.example.net\r\nAUTH LOGIN\r\n" +
                      sasl::base64_encode("alice@example.com") + "\r\n" +
                      sasl::base64_encode("pass word") + "\r\n");
  CHECK(login.feed("235 2.7.0 Authentication successful\r\n") == LoginOutcome::LoggedIn);
}

TEST_CASE("AUTH LOGIN answers each prompt by what it asks for", "[smtp_login]") {
  auto login = make_login(Mechanism::Login);
  login.feed("220 pod\r\n250-pod\r\n250 AUTH LOGIN\r\n");
  login.take_output();
  login.feed("334 UGFzc3dvcmQ6\r\n");  // asks for the password first
  CHECK(sent(login) == sasl::base64_encode("pass word") + "\r\n");
  auto odd = make_login(Mechanism::Login);
  odd.feed("220 pod\r\n250-pod\r\n250 AUTH LOGIN\r\n");
  CHECK(odd.feed("334 " + sasl::base64_encode("Your token?") + "\r\n") == LoginOutcome::PodFault);
  // A refusal before any prompt was answered is no verdict; one after the
  // user name is a verdict on the name.
  auto early = make_login(Mechanism::Login);
  early.feed("220 pod\r\n250-pod\r\n250 AUTH LOGIN\r\n");
  CHECK(early.feed("535 5.7.8 No\r\n") == LoginOutcome::PodFault);
  auto no_such_user = make_login(Mechanism::Login);
  no_such_user.feed("220 pod\r\n250-pod\r\n250 AUTH LOGIN\r\n334 VXNlcm5hbWU6\r\n");
  CHECK(no_such_user.feed("535 5.7.8 No such user\r\n") == LoginOutcome::UnknownUser);
  CHECK_FALSE(no_such_user.credentials_sent());
}

TEST_CASE("SMTP reply codes pick the outcome", "[smtp_login]") {
  auto answer = [](const char* reply) {
    auto login = make_login();
    login.feed("220 pod\r\n250-pod\r\n250 AUTH PLAIN\r\n");
    return login.feed(reply);
  };
  CHECK(answer("535 5.7.8 Error: authentication failed\r\n") == LoginOutcome::WrongPassword);
  // Temporary failures, closing, a mechanism too weak, a pod that wants TLS
  // first, or dislikes our syntax: none of them is a wrong password.
  for (const char* fault :
       {"454 4.7.0 Temporary authentication failure\r\n", "421 4.3.2 Shutting down\r\n",
        "534 5.7.9 Authentication mechanism is too weak\r\n",
        "530 5.7.0 Must issue a STARTTLS command first\r\n", "501 5.5.2 Syntax error\r\n",
        "334 \r\n"}) {
    INFO(fault);
    CHECK(answer(fault) == LoginOutcome::PodFault);
  }
  auto no_auth = make_login();
  CHECK(no_auth.feed("220 pod\r\n250-pod\r\n250 PIPELINING\r\n") == LoginOutcome::PodFault);
  auto no_plain = make_login();
  CHECK(no_plain.feed("220 pod\r\n250-pod\r\n250 AUTH CRAM-MD5\r\n") == LoginOutcome::PodFault);
  CHECK_FALSE(no_plain.credentials_sent());

  auto busy = make_login();
  CHECK(busy.feed("554 5.3.2 No service here\r\n") == LoginOutcome::PodFault);
  auto garbage = make_login();
  CHECK(garbage.feed("* OK IMAP here\r\n") == LoginOutcome::PodFault);
  auto endless = make_login();
  CHECK(endless.feed(std::string(podgate::smtp::ReplyReader::kMaxLineBytes + 10, '2')) ==
        LoginOutcome::PodFault);
  auto mixed = make_login();
  CHECK(mixed.feed("220-pod\r\n250 ready\r\n") == LoginOutcome::PodFault);
  auto no_ehlo = make_login();
  no_ehlo.feed("220 pod\r\n");
  CHECK(no_ehlo.feed("502 5.5.2 Error: command not recognized\r\n") == LoginOutcome::PodFault);
}

TEST_CASE("A multi-line reply that never ends is a pod fault, not a growing buffer",
          "[smtp_login]") {
  auto login = make_login();
  login.feed("220 pod\r\n");
  std::optional<LoginOutcome> verdict;
  std::size_t fed = 0;
  while (!verdict && fed < 4 * podgate::smtp::ReplyReader::kMaxReplyBytes) {
    verdict = login.feed("250-X-EXTENSION-THAT-GOES-ON\r\n");
    fed += 30;
  }
  CHECK(verdict == LoginOutcome::PodFault);
  CHECK(fed <= podgate::smtp::ReplyReader::kMaxReplyBytes + 30);
}
