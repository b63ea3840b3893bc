#include "bench/podgate-bench/dialogue.h"

#include "bench/podgate-bench/imap_dialogue.h"
#include "bench/podgate-bench/pop3_dialogue.h"
#include "bench/podgate-bench/smtp_dialogue.h"

namespace podgate::bench {

const char* to_string(LoginState state) {
  switch (state) {
    case LoginState::Connecting:
      return "connecting";
    case LoginState::TlsHandshake:
      return "tls_handshake";
    case LoginState::Greeting:
      return "greeting";
    case LoginState::StartTls:
      return "starttls";
    case LoginState::Auth:
      return "auth";
    case LoginState::Command:
      return "command";
    case LoginState::Logout:
      return "logout";
    case LoginState::Holding:
      return "holding";
    case LoginState::Done:
      return "done";
  }
  return "unknown";
}

LoginState next_state(LoginState state, const LoginPlan& plan) {
  switch (state) {
    case LoginState::Connecting:
      return plan.tls == TlsMode::Implicit ? LoginState::TlsHandshake : LoginState::Greeting;
    case LoginState::TlsHandshake:
      // Implicit TLS: the greeting comes encrypted; STARTTLS: it came before.
      return plan.tls == TlsMode::Implicit ? LoginState::Greeting : LoginState::Auth;
    case LoginState::Greeting:
      return plan.tls == TlsMode::StartTls ? LoginState::StartTls : LoginState::Auth;
    case LoginState::StartTls:
      return LoginState::TlsHandshake;
    case LoginState::Auth:
      return plan.command == CommandKind::None ? LoginState::Logout : LoginState::Command;
    case LoginState::Command:
      return plan.command == CommandKind::Idle ? LoginState::Holding : LoginState::Logout;
    case LoginState::Logout:
    case LoginState::Holding:
    case LoginState::Done:
      return LoginState::Done;
  }
  return LoginState::Done;
}

std::unique_ptr<Dialogue> make_dialogue(Protocol protocol, AuthMechanism auth, CommandKind command,
                                        const Credential& credential) {
  switch (protocol) {
    case Protocol::Imap:
      return std::make_unique<ImapDialogue>(auth, command, credential);
    case Protocol::Pop3:
      return std::make_unique<Pop3Dialogue>(auth, credential);
    case Protocol::Smtp:
      return std::make_unique<SmtpDialogue>(auth, credential);
  }
  return nullptr;
}

}  // namespace podgate::bench
