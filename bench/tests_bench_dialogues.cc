// The protocol dialogues, run through their states the way LoginScript does,
// against scripted server answers fed whole and in every small split: the
// client's bytes and the outcome must not depend on how the answers arrive.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "bench/podgate-bench/dialogue.h"
#include "proxy/protocol/sasl/sasl.h"

using namespace podgate::bench;

namespace {

struct Run {
  std::string client;               // everything the dialogue sent
  std::vector<std::string> events;  // "tls_clock", "done:<state>", "failed:<kind>"
  LoginState last = LoginState::Connecting;

  bool operator==(const Run& other) const {
    return client == other.client && events == other.events && last == other.last;
  }
};

// The server's answer per state; `chunk` bytes are fed at a time (0: whole).
// TLS handshakes are taken as done at once.
Run run_dialogue(Protocol protocol, AuthMechanism auth, LoginPlan plan,
                 const std::map<LoginState, std::string>& server, std::size_t chunk,
                 const Credential& credential) {
  std::unique_ptr<Dialogue> dialogue = make_dialogue(protocol, auth, plan.command, credential);
  Run run;
  LoginState state = next_state(LoginState::Connecting, plan);
  auto take_output = [&] {
    run.client += dialogue->output();
    dialogue->clear_output();
  };
  while (state != LoginState::Done && state != LoginState::Holding) {
    run.last = state;
    if (state == LoginState::TlsHandshake) {
      state = next_state(state, plan);
      continue;
    }
    Progress progress = dialogue->begin(state);
    std::string answer = server.count(state) ? server.at(state) : "";
    std::size_t fed = 0;
    for (;;) {
      take_output();
      if (progress.kind == Progress::Kind::TlsClockStarts) run.events.push_back("tls_clock");
      if (progress.kind == Progress::Kind::Failed) {
        run.events.push_back(std::string("failed:") + error_name(progress.error));
        return run;
      }
      if (progress.kind == Progress::Kind::StateDone) break;
      if (fed >= answer.size()) {
        // Whatever is still buffered gets one more look, as when more bytes come.
        progress = dialogue->feed({});
        take_output();
        if (progress.kind == Progress::Kind::NeedMore ||
            progress.kind == Progress::Kind::TlsClockStarts) {
          run.events.push_back("stuck");
          return run;
        }
        continue;
      }
      std::size_t n = chunk == 0 ? answer.size() - fed : std::min(chunk, answer.size() - fed);
      progress = dialogue->feed(std::string_view(answer).substr(fed, n));
      fed += n;
    }
    run.events.push_back(std::string("done:") + to_string(state));
    if (state == LoginState::StartTls) dialogue->discard_buffered();
    state = next_state(state, plan);
  }
  run.last = state;
  return run;
}

// The same run for every split of the answers into chunks of 1..7 bytes and whole.
Run run_every_split(Protocol protocol, AuthMechanism auth, LoginPlan plan,
                    const std::map<LoginState, std::string>& server, const Credential& credential) {
  Run whole = run_dialogue(protocol, auth, plan, server, 0, credential);
  for (std::size_t chunk = 1; chunk <= 7; ++chunk) {
    INFO("chunk size " << chunk);
    CHECK(run_dialogue(protocol, auth, plan, server, chunk, credential) == whole);
  }
  return whole;
}

std::string plain(const Credential& c) {
  return podgate::sasl::base64_encode(podgate::sasl::make_plain(c.user, c.password));
}

const Credential kUser{"user7@example.com", "pa\"ss \\ word"};

}  // namespace

TEST_CASE("Login states follow the flags", "[bench][dialogue]") {
  LoginPlan implicit{TlsMode::Implicit, CommandKind::Default};
  CHECK(next_state(LoginState::Connecting, implicit) == LoginState::TlsHandshake);
  CHECK(next_state(LoginState::TlsHandshake, implicit) == LoginState::Greeting);
  CHECK(next_state(LoginState::Greeting, implicit) == LoginState::Auth);
  CHECK(next_state(LoginState::Auth, implicit) == LoginState::Command);
  CHECK(next_state(LoginState::Command, implicit) == LoginState::Logout);
  CHECK(next_state(LoginState::Logout, implicit) == LoginState::Done);

  LoginPlan starttls{TlsMode::StartTls, CommandKind::None};
  CHECK(next_state(LoginState::Connecting, starttls) == LoginState::Greeting);
  CHECK(next_state(LoginState::Greeting, starttls) == LoginState::StartTls);
  CHECK(next_state(LoginState::StartTls, starttls) == LoginState::TlsHandshake);
  CHECK(next_state(LoginState::TlsHandshake, starttls) == LoginState::Auth);
  CHECK(next_state(LoginState::Auth, starttls) == LoginState::Logout);

  LoginPlan hold{TlsMode::None, CommandKind::Idle};
  CHECK(next_state(LoginState::Connecting, hold) == LoginState::Greeting);
  CHECK(next_state(LoginState::Command, hold) == LoginState::Holding);
}

TEST_CASE("IMAP: LOGIN, SELECT, LOGOUT with untagged lines in between", "[bench][dialogue]") {
  std::map<LoginState, std::string> server = {
      {LoginState::Greeting, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] pod-1 ready.\r\n"},
      {LoginState::Auth,
       "* CAPABILITY IMAP4rev1 IDLE\r\nA OK [CAPABILITY IMAP4rev1] Logged in\r\n"},
      {LoginState::Command,
       "* FLAGS (\\Seen)\r\n* 3 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\nC OK [READ-WRITE] done\r\n"},
      {LoginState::Logout, "* BYE Logging out\r\nZ OK Logout completed.\r\n"},
  };
  Run run = run_every_split(Protocol::Imap, AuthMechanism::Login,
                            {TlsMode::Implicit, CommandKind::Default}, server, kUser);
  CHECK(run.client ==
        "A LOGIN \"user7@example.com\" \"pa\\\"ss \\\\ word\"\r\nC SELECT INBOX\r\nZ LOGOUT\r\n");
  CHECK(run.events ==
        std::vector<std::string>{"done:greeting", "done:auth", "done:command", "done:logout"});
  CHECK(run.last == LoginState::Done);
}

TEST_CASE("IMAP: STARTTLS and AUTHENTICATE PLAIN with SASL-IR; injected plaintext is dropped",
          "[bench][dialogue]") {
  std::map<LoginState, std::string> server = {
      {LoginState::Greeting, "* OK [CAPABILITY IMAP4rev1 STARTTLS SASL-IR AUTH=PLAIN] hi\r\n"},
      // Bytes behind the STARTTLS answer would otherwise pass for the login answer.
      {LoginState::StartTls, "S OK Begin TLS\r\nA OK injected\r\n"},
      {LoginState::Auth, "A OK Logged in\r\n"},
      {LoginState::Logout, "Z OK bye\r\n"},
  };
  Run run = run_every_split(Protocol::Imap, AuthMechanism::Plain,
                            {TlsMode::StartTls, CommandKind::None}, server, kUser);
  CHECK(run.client == "S STARTTLS\r\nA AUTHENTICATE PLAIN " + plain(kUser) + "\r\nZ LOGOUT\r\n");
  CHECK(run.events == std::vector<std::string>{"done:greeting", "tls_clock", "done:starttls",
                                               "done:auth", "done:logout"});
}

TEST_CASE("IMAP: AUTHENTICATE PLAIN waits for '+' without SASL-IR", "[bench][dialogue]") {
  std::map<LoginState, std::string> server = {
      {LoginState::Greeting, "* OK ready\r\n"},
      {LoginState::Auth, "+ \r\nA OK Logged in\r\n"},
      {LoginState::Logout, "Z OK bye\r\n"},
  };
  Run run = run_every_split(Protocol::Imap, AuthMechanism::Plain,
                            {TlsMode::None, CommandKind::None}, server, kUser);
  CHECK(run.client == "A AUTHENTICATE PLAIN\r\n" + plain(kUser) + "\r\nZ LOGOUT\r\n");
  CHECK(run.last == LoginState::Done);
}

TEST_CASE("IMAP: FETCH reads the whole literal, whatever it contains", "[bench][dialogue]") {
  // The literal holds a line that looks like the FETCH's own tagged answer.
  std::string body = "Subject: x\r\n\r\nF OK not yet\r\n{5}\r\n" + std::string(300, 'z') + "\r\n";
  std::map<LoginState, std::string> server = {
      {LoginState::Greeting, "* OK ready\r\n"},
      {LoginState::Auth, "A OK in\r\n"},
      {LoginState::Command, "* 1 EXISTS\r\nC OK selected\r\n* 1 FETCH (BODY[] {" +
                                std::to_string(body.size()) + "}\r\n" + body +
                                ")\r\nF OK Fetch completed.\r\n"},
      {LoginState::Logout, "* BYE\r\nZ OK bye\r\n"},
  };
  Run run = run_every_split(Protocol::Imap, AuthMechanism::Login,
                            {TlsMode::Implicit, CommandKind::Fetch}, server, kUser);
  CHECK(run.client.find("C SELECT INBOX\r\nF FETCH 1 BODY.PEEK[]\r\nZ LOGOUT\r\n") !=
        std::string::npos);
  CHECK(run.last == LoginState::Done);

  // Cut short inside the literal: the command is not over.
  server[LoginState::Command] = "C OK selected\r\n* 1 FETCH (BODY[] {50}\r\nF OK short\r\n";
  CHECK(run_dialogue(Protocol::Imap, AuthMechanism::Login, {TlsMode::None, CommandKind::Fetch},
                     server, 0, kUser)
            .events.back() == "stuck");
}

TEST_CASE("IMAP: IDLE ends at the continuation and the session is held", "[bench][dialogue]") {
  std::map<LoginState, std::string> server = {
      {LoginState::Greeting, "* OK ready\r\n"},
      {LoginState::Auth, "A OK in\r\n"},
      {LoginState::Command, "+ idling\r\n"},
  };
  Run run = run_every_split(Protocol::Imap, AuthMechanism::Login,
                            {TlsMode::Implicit, CommandKind::Idle}, server, kUser);
  CHECK(run.client.ends_with("C IDLE\r\n"));
  CHECK(run.last == LoginState::Holding);
}

TEST_CASE("IMAP: refusals are told apart", "[bench][dialogue]") {
  auto failure = [](std::map<LoginState, std::string> server) {
    server.emplace(LoginState::Greeting, "* OK ready\r\n");
    server.emplace(LoginState::Auth, "A OK in\r\n");
    Run run = run_every_split(Protocol::Imap, AuthMechanism::Login,
                              {TlsMode::StartTls, CommandKind::Default}, server, kUser);
    return run.events.back();
  };
  CHECK(failure({{LoginState::Greeting, "* BYE too many connections\r\n"}}) == "failed:greeting");
  CHECK(failure({{LoginState::Greeting, "HTTP/1.1 400 Bad Request\r\n"}}) == "failed:protocol");
  CHECK(failure({{LoginState::StartTls, "S NO no TLS here\r\n"}}) == "failed:tls");
  CHECK(failure({{LoginState::StartTls, "S OK go\r\n"},
                 {LoginState::Auth, "A NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"}}) ==
        "failed:auth_failed");
  CHECK(failure({{LoginState::StartTls, "S OK go\r\n"},
                 {LoginState::Auth, "* BYE\r\nA no [unavailable] try later\r\n"}}) ==
        "failed:auth_unavailable");
  CHECK(failure({{LoginState::StartTls, "S OK go\r\n"},
                 {LoginState::Command, "C NO [NONEXISTENT] no INBOX\r\n"}}) == "failed:command");
  CHECK(failure({{LoginState::StartTls, "S OK go\r\n"},
                 {LoginState::Command, "X OK someone else's\r\n"}}) == "failed:protocol");
  CHECK(failure({{LoginState::StartTls, "S OK go\r\n"},
                 {LoginState::Command, "* OK " + std::string(70000, 'x') + "\r\n"}}) ==
        "failed:protocol");
}

TEST_CASE("POP3: STLS, USER/PASS, STAT, QUIT", "[bench][dialogue]") {
  std::map<LoginState, std::string> server = {
      {LoginState::Greeting, "+OK Dovecot ready.\r\n"},
      {LoginState::StartTls, "+OK Begin TLS negotiation now.\r\n"},
      {LoginState::Auth, "+OK\r\n+OK Logged in.\r\n"},
      {LoginState::Command, "+OK 3 1200\r\n"},
      {LoginState::Logout, "+OK Logging out.\r\n"},
  };
  Run run = run_every_split(Protocol::Pop3, AuthMechanism::Login,
                            {TlsMode::StartTls, CommandKind::Default}, server, kUser);
  CHECK(run.client == "STLS\r\nUSER user7@example.com\r\nPASS pa\"ss \\ word\r\nSTAT\r\nQUIT\r\n");
  CHECK(run.events == std::vector<std::string>{"done:greeting", "tls_clock", "done:starttls",
                                               "done:auth", "done:command", "done:logout"});
}

TEST_CASE("POP3: AUTH PLAIN and the refusals", "[bench][dialogue]") {
  std::map<LoginState, std::string> server = {
      {LoginState::Greeting, "+OK ready\r\n"},
      {LoginState::Auth, "+OK Logged in.\r\n"},
      {LoginState::Logout, "+OK bye\r\n"},
  };
  Run run = run_every_split(Protocol::Pop3, AuthMechanism::Plain,
                            {TlsMode::Implicit, CommandKind::None}, server, kUser);
  CHECK(run.client == "AUTH PLAIN " + plain(kUser) + "\r\nQUIT\r\n");
  CHECK(run.last == LoginState::Done);

  auto failure = [](AuthMechanism auth, std::map<LoginState, std::string> server) {
    server.emplace(LoginState::Greeting, "+OK ready\r\n");
    return run_every_split(Protocol::Pop3, auth, {TlsMode::None, CommandKind::Default}, server,
                           kUser)
        .events.back();
  };
  CHECK(failure(AuthMechanism::Plain,
                {{LoginState::Auth, "-ERR [AUTH] Authentication failed.\r\n"}}) ==
        "failed:auth_failed");
  CHECK(failure(AuthMechanism::Login, {{LoginState::Auth, "+OK\r\n-ERR [SYS/TEMP] later\r\n"}}) ==
        "failed:auth_unavailable");
  CHECK(failure(AuthMechanism::Login, {{LoginState::Greeting, "-ERR go away\r\n"}}) ==
        "failed:greeting");
  CHECK(failure(AuthMechanism::Plain, {{LoginState::Auth, "+ \r\n"}}) == "failed:protocol");
  CHECK(failure(AuthMechanism::Plain, {{LoginState::Auth, "+OK in\r\n"},
                                       {LoginState::Command, "-ERR no\r\n"}}) == "failed:command");
}

TEST_CASE("SMTP: multi-line replies, STARTTLS, AUTH PLAIN, NOOP, QUIT", "[bench][dialogue]") {
  std::string ehlo = "250-pod.example\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n";
  std::map<LoginState, std::string> server = {
      {LoginState::Greeting, "220-pod.example ESMTP\r\n220 second line\r\n"},
      {LoginState::StartTls, ehlo + "220 2.0.0 Ready to start TLS\r\n"},
      {LoginState::Auth,
       "250-pod.example\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
       "235 2.7.0 Authentication successful\r\n"},
      {LoginState::Command, "250 2.0.0 Ok\r\n"},
      {LoginState::Logout, "221 2.0.0 Bye\r\n"},
  };
  Run run = run_every_split(Protocol::Smtp, AuthMechanism::Plain,
                            {TlsMode::StartTls, CommandKind::Default}, server, kUser);
  CHECK(run.client == "EHLO podgate-bench\r\nSTARTTLS\r\nEHLO podgate-bench\r\nAUTH PLAIN " +
                          plain(kUser) + "\r\nNOOP\r\nQUIT\r\n");
  CHECK(run.events == std::vector<std::string>{"done:greeting", "tls_clock", "done:starttls",
                                               "done:auth", "done:command", "done:logout"});
}

TEST_CASE("SMTP: AUTH LOGIN and the refusals", "[bench][dialogue]") {
  std::map<LoginState, std::string> server = {
      {LoginState::Greeting, "220 ready\r\n"},
      {LoginState::Auth, "250 ok\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 ok\r\n"},
      {LoginState::Logout, "221 bye\r\n"},
  };
  Run run = run_every_split(Protocol::Smtp, AuthMechanism::Login,
                            {TlsMode::Implicit, CommandKind::None}, server, kUser);
  CHECK(run.client == "EHLO podgate-bench\r\nAUTH LOGIN\r\n" +
                          podgate::sasl::base64_encode(kUser.user) + "\r\n" +
                          podgate::sasl::base64_encode(kUser.password) + "\r\nQUIT\r\n");
  CHECK(run.last == LoginState::Done);

  auto failure = [](std::map<LoginState, std::string> server) {
    server.emplace(LoginState::Greeting, "220 ready\r\n");
    return run_every_split(Protocol::Smtp, AuthMechanism::Plain,
                           {TlsMode::Implicit, CommandKind::Default}, server, kUser)
        .events.back();
  };
  CHECK(failure({{LoginState::Greeting, "554 5.3.2 busy\r\n"}}) == "failed:greeting");
  CHECK(failure({{LoginState::Auth, "250 ok\r\n535 5.7.8 Authentication failed\r\n"}}) ==
        "failed:auth_failed");
  CHECK(failure({{LoginState::Auth, "250 ok\r\n454 4.7.0 Temporary failure\r\n"}}) ==
        "failed:auth_unavailable");
  CHECK(failure({{LoginState::Auth, "250-ok\r\n251 changed code\r\n"}}) == "failed:protocol");
  CHECK(failure({{LoginState::Auth, "hello\r\n"}}) == "failed:protocol");
  CHECK(failure({{LoginState::Auth, "250 ok\r\n235 in\r\n"},
                 {LoginState::Command, "502 no\r\n"}}) == "failed:command");
}
