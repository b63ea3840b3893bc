// The client side of AUTHENTICATE (IMAP) / AUTH (POP3, SMTP): the mechanisms
// of sasl/mechanisms.h that the listener offers, with or without an initial
// response, as one small state machine that every protocol words in its own
// syntax ("+ ", "334 ").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/secret.h"
#include "proxy/credentials.h"
#include "proxy/login_outcome.h"
#include "proxy/protocol/sasl/mechanisms.h"

namespace podgate::proxy {

class SaslExchange {
 public:
  struct Step {
    enum class Kind {
      Challenge,    // send `challenge` (base64, possibly empty) and expect a line
      Credentials,  // `credentials` are complete
      Failed,       // `failure` says why: Cancelled, InvalidBase64,
                    // UnsupportedMechanism or MalformedCredentials
    };
    Kind kind = Kind::Failed;
    std::string challenge;
    Credentials credentials;
    LoginOutcome failure = LoginOutcome::UnsupportedMechanism;
    // MalformedCredentials: the login name, when the message had one.
    std::string user;
  };

  // The client asks for `mechanism` (a name in any case): one of `offered`
  // (the listener's), or UnsupportedMechanism.
  Step start(std::string_view mechanism, const std::vector<sasl::Mechanism>& offered,
             const std::optional<Secret>& initial_response);
  Step respond(const Secret& line);

 private:
  enum class Awaiting { PlainMessage, LoginUser, LoginPassword };
  Step accept_line(std::string_view line);

  Awaiting awaiting_ = Awaiting::PlainMessage;
  std::string user_;
};

}  // namespace podgate::proxy
