// The pod side of the extra authentication hop, as every protocol sees it:
// bytes from the pod go in, bytes for the pod and a verdict come out. Each
// protocol implements its own dialogue (imap_, pop3_, smtp_backend_login);
// the session owns the socket and the timing.
//
// What a pod may send before its verdict is bounded (kMaxDialogueBytes of
// lines read, and each reader bounds its lines): a greeting, a capability
// list and a login answer fit in a few KB, and a pod that sends more is at
// fault, never a reason to buffer until the login times out.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/secret.h"
#include "proxy/credentials.h"
#include "proxy/login_outcome.h"

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
  static constexpr std::size_t kMaxDialogueBytes = 64 * 1024;

  // The session owns the credentials for the whole login (each server of
  // the pod tried gets a dialogue of its own) and wipes them at its end.
  BackendLogin(const Credentials& credentials, ClientIdentity client)
      : credentials_(credentials), client_(std::move(client)) {}
  virtual ~BackendLogin() = default;
  BackendLogin(const BackendLogin&) = delete;
  BackendLogin& operator=(const BackendLogin&) = delete;

  // Consumes bytes from the pod. nullopt while the dialogue goes on; then
  // the verdict, which stays: LoggedIn, WrongPassword, InUse or PodFault
  // (pod_verdict.h says which answer is which), or MalformedCredentials
  // when nothing the pod offers can carry these credentials.
  std::optional<LoginOutcome> feed(std::string_view bytes);
  // What to send the pod now (it may hold the credentials).
  Secret take_output() { return std::move(output_); }
  // Bytes the pod sent after its login answer: they belong to the client.
  virtual std::string take_leftover() = 0;
  // Why the verdict is PodFault, for the error log (never user data).
  const std::string& problem() const { return problem_; }
  // What to send a pod whose successful login we will not use.
  virtual std::string_view logout_command() const = 0;
  // The credentials went out to the pod: a fault before that says nothing
  // about them, and the pod's next server may do better.
  bool credentials_sent() const { return credentials_sent_; }

 protected:
  // The protocol's dialogue over the pod's bytes.
  virtual std::optional<LoginOutcome> consume(std::string_view bytes) = 0;
  // Counts a line (or reply) the dialogue is about to read against
  // kMaxDialogueBytes: false once over it (then answer overspent()).
  // Counted as read, not as received, so the verdict does not depend on how
  // the pod's bytes were split.
  bool spend(std::size_t bytes);
  LoginOutcome overspent();
  void send(std::string_view text) { output_.append(text); }
  // Sends what carries the credentials.
  void send_credentials(const Secret& text);
  LoginOutcome fault(std::string problem);

  const Credentials& credentials_;
  ClientIdentity client_;

 private:
  Secret output_;
  std::string problem_;
  std::size_t received_ = 0;
  bool credentials_sent_ = false;
  std::optional<LoginOutcome> verdict_;
};

}  // namespace podgate::proxy
