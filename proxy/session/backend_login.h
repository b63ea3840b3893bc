// The pod side of the extra authentication hop, as every protocol sees it:
// bytes from the pod go in, bytes for the pod and a verdict come out. Each
// protocol (IMAP, later POP3 and SMTP) implements its own dialogue; the
// session owns the socket and the timing.
#pragma once

#include <string>
#include <string_view>

namespace podgate::proxy {

// Who the pod should believe it is talking to.
struct ClientIdentity {
  std::string ip;
  int port = 0;
  std::string local_ip;  // where the client reached podgate
  int local_port = 0;
  std::string session;
};

class BackendLogin {
 public:
  enum class Verdict {
    Pending,      // keep feeding
    LoggedIn,     // the leftover is final
    AuthFailed,   // the pod refused the credentials
    Unavailable,  // the pod cannot serve now (bad greeting, BYE, garbage, temporary failure)
    InUse,        // right password, but the mailbox is locked (POP3 [IN-USE])
  };

  virtual ~BackendLogin() = default;

  // Consumes bytes from the pod and returns the verdict so far; what to send
  // to the pod is collected in take_output().
  virtual Verdict feed(std::string_view bytes) = 0;
  virtual std::string take_output() = 0;
  // Bytes the pod sent after its login answer: they belong to the client.
  virtual std::string take_leftover() = 0;
  // Why the verdict is Unavailable, for the error log (never user data).
  virtual const std::string& problem() const = 0;
  // What to send a pod whose successful login we will not use.
  virtual std::string logout_command() const = 0;
};

}  // namespace podgate::proxy
