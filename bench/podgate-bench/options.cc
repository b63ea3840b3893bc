#include "bench/podgate-bench/options.h"

namespace podgate::bench {

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
