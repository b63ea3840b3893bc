// What a SIGHUP may change in a running podgate. A reloaded configuration
// applies to what starts from then on (timeouts, limits, the certificate,
// the pods' CA, ...). Settings bound at start to sockets, threads and
// clients (listeners, directory source, admin API, access log, workers)
// keep their running values until a restart.
#pragma once

#include <string>
#include <vector>

#include "proxy/config.h"

namespace podgate::proxy {

// Gives `loaded` the running values of the settings a reload cannot apply
// and names each one that differed, for a "needs a restart" warning.
std::vector<std::string> keep_restart_only_settings(const Config& running, Config& loaded);

}  // namespace podgate::proxy
