// What a client logs in with, as one value from the SASL layer (or IMAP
// LOGIN, POP3 USER/PASS) through the directory lookup to the pod's login:
// the name and the password travel together, and the password only as a
// Secret.
#pragma once

#include <string>

#include "core/secret.h"
#include "proxy/protocol/sasl/mechanisms.h"

namespace podgate::proxy {

struct Credentials {
  std::string authcid;  // the login name
  Secret secret;        // the password
  // How the client sent them; IMAP LOGIN and POP3 USER/PASS count as PLAIN
  // (a name and a password in the clear, inside TLS).
  sasl::Mechanism mechanism = sasl::Mechanism::Plain;
};

}  // namespace podgate::proxy
