#include "proxy/session/sasl_exchange.h"

#include <utility>

#include "proxy/protocol/sasl/sasl.h"

namespace podgate::proxy {

namespace {

using Step = SaslExchange::Step;
using Outcome = SaslExchange::Outcome;

Step just(Outcome outcome) {
  Step step;
  step.outcome = outcome;
  return step;
}

Step challenge(std::string_view text) {
  Step step = just(Outcome::Challenge);
  step.challenge = text;
  return step;
}

Step credentials(std::string user, std::string password) {
  Step step = just(Outcome::Credentials);
  step.user = std::move(user);
  step.password = std::move(password);
  return step;
}

constexpr std::string_view kUsernamePrompt = "VXNlcm5hbWU6";  // "Username:"
constexpr std::string_view kPasswordPrompt = "UGFzc3dvcmQ6";  // "Password:"
}  // namespace

SaslExchange::Step SaslExchange::start(std::string_view mechanism,
                                       const std::optional<std::string>& initial_response) {
  if (mechanism == "PLAIN") {
    awaiting_ = Awaiting::PlainMessage;
  } else if (mechanism == "LOGIN") {
    awaiting_ = Awaiting::LoginUser;
  } else {
    return just(Outcome::Unsupported);
  }
  user_.clear();
  if (initial_response) return accept_line(*initial_response);
  return challenge(awaiting_ == Awaiting::LoginUser ? kUsernamePrompt : std::string_view());
}

SaslExchange::Step SaslExchange::respond(std::string_view line) {
  return accept_line(line);
}

SaslExchange::Step SaslExchange::accept_line(std::string_view line) {
  if (line == "*") return just(Outcome::Cancelled);
  // "=" is how an empty response is sent (RFC 4959, RFC 4954, RFC 5034).
  std::optional<std::string> decoded =
      line == "=" ? std::optional<std::string>("") : sasl::base64_decode(line);
  if (!decoded) return just(Outcome::BadBase64);
  switch (awaiting_) {
    case Awaiting::PlainMessage: {
      auto parsed = sasl::parse_plain(*decoded);
      // Acting as another user (a non-empty, different authzid) needs master
      // credentials on the pod; podgate does not pass that through.
      if (!parsed || (!parsed->authzid.empty() && parsed->authzid != parsed->authcid)) {
        return just(Outcome::Refused);
      }
      return credentials(std::move(parsed->authcid), std::move(parsed->password));
    }
    case Awaiting::LoginUser:
      user_ = std::move(*decoded);
      awaiting_ = Awaiting::LoginPassword;
      return challenge(kPasswordPrompt);
    case Awaiting::LoginPassword:
      return credentials(std::exchange(user_, {}), std::move(*decoded));
  }
  return just(Outcome::Refused);
}

}  // namespace podgate::proxy
