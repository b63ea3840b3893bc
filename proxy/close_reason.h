// Why a client session ended: who closed it and why, one name each, for the
// access log's "close_reason" and the closing metrics.
#pragma once

namespace podgate::proxy {

enum class CloseReason {
  AcceptFailed,         // the connection was gone before it could be accepted
  TlsFailed,            // the client's TLS handshake or a TLS record failed
  TooManyConnections,   // over limits.max_connections_per_address
  PreauthTimeout,       // no login within timeouts.preauth_seconds
  ClientClosed,         // the client closed or reset the connection
  BackendClosed,        // the pod ended a logged-in session
  Logout,               // the client said LOGOUT / QUIT before login
  IdleTimeout,          // timeouts.idle_seconds of silence after login
  TooManyErrors,        // limits.max_invalid_commands
  LineTooLong,          // limits.max_command_bytes
  TooManyAuthAttempts,  // limits.max_auth_attempts
  Shutdown,             // podgate stopped (SIGTERM / SIGINT)
  Kicked,               // an administrator closed it (POST /v1/kick)
};

const char* to_string(CloseReason reason);

}  // namespace podgate::proxy
