// The HTTP client settings both remote directory clients take from the
// "directory" section of the config.
#pragma once

#include "core/http/http_client.h"
#include "proxy/config.h"

namespace podgate::proxy {

inline core::http::ClientOptions client_options(const DirectoryConfig& config) {
  core::http::ClientOptions options;
  options.max_connections = config.max_connections;
  options.max_idle_connections = config.max_connections;
  options.request_timeout_ms = config.timeout_ms;
  return options;
}

}  // namespace podgate::proxy
