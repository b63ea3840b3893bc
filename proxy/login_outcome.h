// How a login attempt ended, from the client's SASL exchange to the pod's
// verdict: one name per way it can end, in the manner of Dovecot's
// login-proxy failure types. Everything that depends on it is decided from
// this one value: the client's answer (each protocol words it), whether the
// brute-force guard and limits.max_auth_attempts count it, the failure
// delay, the access log's "result" and "outcome", and the metrics.
#pragma once

namespace podgate::proxy {

enum class LoginOutcome {
  LoggedIn,  // the pod accepted the credentials: the relay starts

  // A verdict on the credentials (the guard counts the wrong ones, and
  // remembers the address of a right one).
  WrongPassword,     // the pod's explicit authentication failure
  UnknownUser,       // no route for the user, or a pod that refused the name
                     // itself (answered like WrongPassword)
  DirectoryRefused,  // an auth_http service said no
  Disabled,          // the pod accepted them, but the protocol is off for the user

  // Refused before anyone judged them (answered like WrongPassword).
  MalformedCredentials,  // an unusable SASL message, an empty user or password,
                         // a foreign authzid, or bytes no pod could be sent
  LockedOut,             // the guard refused them without asking anyone
  BasicAuthOff,          // a password, where the directory's "basic_auth": false
                         // allows modern authentication only (not a guess: no
                         // one checked it)

  // The client's SASL exchange went wrong: answered at once by the protocol.
  Cancelled,             // the client sent "*"
  InvalidBase64,         // a SASL line that is not base64
  UnsupportedMechanism,  // a mechanism podgate does not offer

  // Nothing was learnt about the credentials: never counted against the client.
  InUse,                 // the pod accepted the password but the mailbox is busy
  DirectoryUnavailable,  // no directory answered
  NoServer,              // the user's pod has no server (up) for the protocol
  PodUnreachable,        // no server of the pod connected, greeted and finished TLS
  PodFault,              // a pod answered, but not with a verdict on the credentials
  PodTimeout,            // the pod gave no verdict within backend_auth_seconds
};

// The outcome's own name, for logs and the access log's "outcome" field.
const char* to_string(LoginOutcome outcome);

// What the client was told, as the access log's "result" and the metric
// label podgate_logins_total{result}: ok, auth_failed, policy (answered as
// auth_failed), disabled, unavailable, in_use.
const char* result_name(LoginOutcome outcome);

// The directory or the pod judged the credentials wrong: the guard counts a
// failure.
bool is_wrong_guess(LoginOutcome outcome);

// The pod judged the credentials right (logged in, or logged in to a
// disabled protocol): the guard forgives and remembers the address.
bool is_right_guess(LoginOutcome outcome);

// Counted by limits.max_auth_attempts: a refusal of the credentials, by the
// pod, the directory, the guard or podgate itself (a pod that is down is not
// the client's fault).
bool counts_as_refusal(LoginOutcome outcome);

// Answered like a wrong password, and no sooner than
// timeouts.auth_failure_delay_ms after the credentials: whatever refused
// them, the answer's timing must not tell which.
bool answered_as_auth_failure(LoginOutcome outcome);

// The pod is to blame (counted per pod in podgate_backend_login_faults_total).
bool is_pod_fault(LoginOutcome outcome);

}  // namespace podgate::proxy
