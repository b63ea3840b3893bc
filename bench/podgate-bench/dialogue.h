// One login as a sequence of named states, and the protocol dialogue that
// fills each state with commands and answers. A Dialogue is pure: server
// bytes in, client bytes and progress out; LoginScript owns the socket, the
// TLS switch and the clock. So every protocol's dialogue is tested without a
// network, fed one byte at a time and whole.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "bench/podgate-bench/credentials.h"
#include "bench/podgate-bench/login_outcome.h"
#include "bench/podgate-bench/options.h"

namespace podgate::bench {

enum class LoginState {
  Connecting,    // TCP connect
  TlsHandshake,  // implicit TLS, or after STARTTLS/STLS was accepted
  Greeting,      // waiting for the server's greeting
  StartTls,      // asking for TLS (SMTP: EHLO first)
  Auth,          // logging in (SMTP: EHLO, then AUTH)
  Command,       // the one command after login
  Logout,        // LOGOUT / QUIT until the answer or the server's close
  Holding,       // --hold: logged in and idling, until the run ends
  Done,
};
const char* to_string(LoginState state);

// The states a login goes through follow from the flags alone.
struct LoginPlan {
  TlsMode tls = TlsMode::Implicit;
  CommandKind command = CommandKind::Default;
};
LoginState next_state(LoginState state, const LoginPlan& plan);

struct Progress {
  enum class Kind {
    NeedMore,        // wait for more bytes from the server
    TlsClockStarts,  // STARTTLS/STLS has just been queued: the tls phase starts now
    StateDone,       // the state's last answer arrived and was a success
    Failed,          // `error` says why
  };
  Kind kind = Kind::NeedMore;
  ErrorKind error = ErrorKind::Protocol;

  static Progress need_more() { return {}; }
  static Progress tls_clock_starts() { return {Kind::TlsClockStarts}; }
  static Progress done() { return {Kind::StateDone}; }
  static Progress failed(ErrorKind error) { return {Kind::Failed, error}; }
};

class Dialogue {
 public:
  virtual ~Dialogue() = default;

  // `state` starts (Greeting, StartTls, Auth, Command or Logout): the dialogue
  // queues the state's first command, if any.
  virtual Progress begin(LoginState state) = 0;
  // Bytes from the server, in any split.
  virtual Progress feed(std::string_view bytes) = 0;
  // STARTTLS/STLS was accepted: plaintext behind the answer is dropped.
  virtual void discard_buffered() = 0;

  // Bytes for the server, queued by begin() and feed().
  const std::string& output() const { return output_; }
  void clear_output() { output_.clear(); }

 protected:
  void send(std::string_view line) {
    output_.append(line);
    output_.append("\r\n");
  }

 private:
  std::string output_;
};

// The dialogue for the protocol and flags; the credential must outlive it.
std::unique_ptr<Dialogue> make_dialogue(Protocol protocol, AuthMechanism auth, CommandKind command,
                                        const Credential& credential);

}  // namespace podgate::bench
