#include "proxy/close_reason.h"

namespace podgate::proxy {

const char* to_string(CloseReason reason) {
  switch (reason) {
    case CloseReason::AcceptFailed:
      return "accept_failed";
    case CloseReason::TlsFailed:
      return "tls_failed";
    case CloseReason::TooManyConnections:
      return "too_many_connections";
    case CloseReason::PreauthTimeout:
      return "preauth_timeout";
    case CloseReason::ClientClosed:
      return "client_closed";
    case CloseReason::BackendClosed:
      return "backend_closed";
    case CloseReason::Logout:
      return "logout";
    case CloseReason::IdleTimeout:
      return "idle_timeout";
    case CloseReason::TooManyErrors:
      return "too_many_errors";
    case CloseReason::LineTooLong:
      return "line_too_long";
    case CloseReason::TooManyAuthAttempts:
      return "too_many_auth_attempts";
    case CloseReason::Shutdown:
      return "shutdown";
    case CloseReason::Kicked:
      return "kicked";
  }
  return "unknown";
}

}  // namespace podgate::proxy
