// The client side of AUTHENTICATE (IMAP) / AUTH (POP3, SMTP): the PLAIN and
// LOGIN mechanisms, with or without an initial response, as one small state
// machine that every protocol words in its own syntax ("+ ", "334 ").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace podgate::proxy {

class SaslExchange {
 public:
  enum class Outcome {
    Challenge,    // send `challenge` (base64, possibly empty) and expect a line
    Credentials,  // `user` and `password` are complete
    Cancelled,    // the client sent "*"
    BadBase64,    // the client's line was not base64
    Refused,      // well-formed but unusable (bad PLAIN message, foreign authzid)
    Unsupported,  // a mechanism podgate does not offer
  };
  struct Step {
    Outcome outcome = Outcome::Unsupported;
    std::string challenge;
    std::string user;
    std::string password;
  };

  // The mechanisms offered, space-separated, for capability lists.
  static constexpr std::string_view kMechanisms = "PLAIN LOGIN";

  Step start(std::string_view mechanism, const std::optional<std::string>& initial_response);
  Step respond(std::string_view line);

 private:
  enum class Awaiting { PlainMessage, LoginUser, LoginPassword };
  Step accept_line(std::string_view line);

  Awaiting awaiting_ = Awaiting::PlainMessage;
  std::string user_;
};

}  // namespace podgate::proxy
