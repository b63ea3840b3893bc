// What a client logs in with, as one value from the SASL layer (or IMAP
// LOGIN, POP3 USER/PASS) through the directory lookup to the pod's login:
// the name and the password travel together, and the password only as a
// Secret.
#pragma once

#include <string>

#include "core/secret.h"

namespace podgate::proxy {

struct Credentials {
  std::string authcid;  // the login name
  Secret secret;        // the password
};

}  // namespace podgate::proxy
