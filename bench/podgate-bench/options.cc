#include "bench/podgate-bench/options.h"

namespace podgate::bench {

const char* to_string(Protocol protocol) {
  switch (protocol) {
    case Protocol::Imap:
      return "imap";
    case Protocol::Pop3:
      return "pop3";
    case Protocol::Smtp:
      return "smtp";
  }
  return "unknown";
}

const char* to_string(TlsMode tls) {
  switch (tls) {
    case TlsMode::Implicit:
      return "implicit";
    case TlsMode::StartTls:
      return "starttls";
    case TlsMode::None:
      return "none";
  }
  return "unknown";
}

}  // namespace podgate::bench
