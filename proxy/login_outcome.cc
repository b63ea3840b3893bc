#include "proxy/login_outcome.h"

namespace podgate::proxy {

const char* to_string(LoginOutcome outcome) {
  switch (outcome) {
    case LoginOutcome::LoggedIn:
      return "logged_in";
    case LoginOutcome::WrongPassword:
      return "wrong_password";
    case LoginOutcome::UnknownUser:
      return "unknown_user";
    case LoginOutcome::DirectoryRefused:
      return "directory_refused";
    case LoginOutcome::Disabled:
      return "disabled";
    case LoginOutcome::MalformedCredentials:
      return "malformed_credentials";
    case LoginOutcome::LockedOut:
      return "locked_out";
    case LoginOutcome::BasicAuthOff:
      return "basic_auth_off";
    case LoginOutcome::Cancelled:
      return "cancelled";
    case LoginOutcome::InvalidBase64:
      return "invalid_base64";
    case LoginOutcome::UnsupportedMechanism:
      return "unsupported_mechanism";
    case LoginOutcome::InUse:
      return "in_use";
    case LoginOutcome::DirectoryUnavailable:
      return "directory_unavailable";
    case LoginOutcome::NoServer:
      return "no_server";
    case LoginOutcome::PodUnreachable:
      return "pod_unreachable";
    case LoginOutcome::PodFault:
      return "pod_fault";
    case LoginOutcome::PodTimeout:
      return "pod_timeout";
  }
  return "unknown";
}

const char* result_name(LoginOutcome outcome) {
  if (outcome == LoginOutcome::LoggedIn) return "ok";
  if (outcome == LoginOutcome::Disabled) return "disabled";
  if (outcome == LoginOutcome::InUse) return "in_use";
  if (outcome == LoginOutcome::BasicAuthOff) return "policy";
  if (answered_as_auth_failure(outcome)) return "auth_failed";
  switch (outcome) {
    case LoginOutcome::Cancelled:
    case LoginOutcome::InvalidBase64:
    case LoginOutcome::UnsupportedMechanism:
      return "no_login";  // the exchange ended before there were credentials
    default:
      return "unavailable";
  }
}

bool is_wrong_guess(LoginOutcome outcome) {
  return outcome == LoginOutcome::WrongPassword || outcome == LoginOutcome::UnknownUser ||
         outcome == LoginOutcome::DirectoryRefused;
}

bool is_right_guess(LoginOutcome outcome) {
  return outcome == LoginOutcome::LoggedIn || outcome == LoginOutcome::Disabled;
}

bool answered_as_auth_failure(LoginOutcome outcome) {
  switch (outcome) {
    case LoginOutcome::WrongPassword:
    case LoginOutcome::UnknownUser:
    case LoginOutcome::DirectoryRefused:
    case LoginOutcome::MalformedCredentials:
    case LoginOutcome::LockedOut:
    case LoginOutcome::BasicAuthOff:
      return true;
    default:
      return false;
  }
}

bool counts_as_refusal(LoginOutcome outcome) {
  return answered_as_auth_failure(outcome) || outcome == LoginOutcome::Disabled;
}

bool is_pod_fault(LoginOutcome outcome) {
  return outcome == LoginOutcome::PodFault || outcome == LoginOutcome::PodTimeout;
}

}  // namespace podgate::proxy
