#include "bench/podgate-bench/login_outcome.h"

namespace podgate::bench {

const char* error_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Connect:
      return "connect";
    case ErrorKind::Tls:
      return "tls";
    case ErrorKind::Greeting:
      return "greeting";
    case ErrorKind::AuthFailed:
      return "auth_failed";
    case ErrorKind::AuthUnavailable:
      return "auth_unavailable";
    case ErrorKind::Command:
      return "command";
    case ErrorKind::Protocol:
      return "protocol";
    case ErrorKind::Closed:
      return "closed";
    case ErrorKind::Timeout:
      return "timeout";
  }
  return "unknown";
}

}  // namespace podgate::bench
