#include "proxy/session/sasl_exchange.h"

#include <algorithm>
#include <utility>

#include "proxy/protocol/sasl/sasl.h"

namespace podgate::proxy {

namespace {

using Step = SaslExchange::Step;

Step failed(LoginOutcome why, std::string user = {}) {
  Step step;
  step.kind = Step::Kind::Failed;
  step.failure = why;
  step.user = std::move(user);
  return step;
}

Step challenge(std::string_view text) {
  Step step;
  step.kind = Step::Kind::Challenge;
  step.challenge = text;
  return step;
}

Step credentials(std::string user, Secret password, sasl::Mechanism mechanism) {
  Step step;
  step.kind = Step::Kind::Credentials;
  step.credentials = Credentials{std::move(user), std::move(password), mechanism};
  return step;
}

constexpr std::string_view kUsernamePrompt = "VXNlcm5hbWU6";  // "Username:"
constexpr std::string_view kPasswordPrompt = "UGFzc3dvcmQ6";  // "Password:"
}  // namespace

SaslExchange::Step SaslExchange::start(std::string_view name,
                                       const std::vector<sasl::Mechanism>& offered,
                                       const std::optional<Secret>& initial_response) {
  std::optional<sasl::Mechanism> mechanism = sasl::mechanism_named(name);
  if (!mechanism || std::find(offered.begin(), offered.end(), *mechanism) == offered.end()) {
    return failed(LoginOutcome::UnsupportedMechanism);
  }
  switch (*mechanism) {
    case sasl::Mechanism::Plain:
      awaiting_ = Awaiting::PlainMessage;
      break;
    case sasl::Mechanism::Login:
      awaiting_ = Awaiting::LoginUser;
      break;
  }
  user_.clear();
  if (initial_response) return accept_line(initial_response->view());
  return challenge(awaiting_ == Awaiting::LoginUser ? kUsernamePrompt : std::string_view());
}

SaslExchange::Step SaslExchange::respond(const Secret& line) {
  return accept_line(line.view());
}

SaslExchange::Step SaslExchange::accept_line(std::string_view line) {
  if (line == "*") return failed(LoginOutcome::Cancelled);
  // "=" is how an empty response is sent (RFC 4959, RFC 4954, RFC 5034).
  std::optional<std::string> decoded =
      line == "=" ? std::optional<std::string>("") : sasl::base64_decode(line);
  if (!decoded) return failed(LoginOutcome::InvalidBase64);
  Secret message(std::move(*decoded));
  switch (awaiting_) {
    case Awaiting::PlainMessage: {
      auto parsed = sasl::parse_plain(message.view());
      if (!parsed) return failed(LoginOutcome::MalformedCredentials);
      // Acting as another user (a non-empty, different authzid) needs master
      // credentials on the pod; podgate does not pass that through.
      if (!parsed->authzid.empty() && parsed->authzid != parsed->authcid) {
        return failed(LoginOutcome::MalformedCredentials, std::move(parsed->authcid));
      }
      return credentials(std::move(parsed->authcid), std::move(parsed->password),
                         sasl::Mechanism::Plain);
    }
    case Awaiting::LoginUser:
      user_ = message.view();
      awaiting_ = Awaiting::LoginPassword;
      return challenge(kPasswordPrompt);
    case Awaiting::LoginPassword:
      return credentials(std::exchange(user_, {}), std::move(message), sasl::Mechanism::Login);
  }
  return failed(LoginOutcome::MalformedCredentials);
}

}  // namespace podgate::proxy
