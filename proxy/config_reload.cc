#include "proxy/config_reload.h"

#include <tuple>

namespace podgate::proxy {

namespace {

bool same_listeners(const std::vector<ListenerConfig>& a, const std::vector<ListenerConfig>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tie(a[i].protocol, a[i].listen, a[i].tls, a[i].mechanisms) !=
        std::tie(b[i].protocol, b[i].listen, b[i].tls, b[i].mechanisms)) {
      return false;
    }
  }
  return true;
}

// Every directory setting counts: the clients, their caches and their
// connection pools are made with them at start.
bool same_directory(const DirectoryConfig& a, const DirectoryConfig& b) {
  return std::tie(a.source, a.file, a.urls, a.auth_http, a.timeout_ms, a.max_connections,
                  a.negative_ttl_seconds, a.stale_seconds, a.cache_entries) ==
         std::tie(b.source, b.file, b.urls, b.auth_http, b.timeout_ms, b.max_connections,
                  b.negative_ttl_seconds, b.stale_seconds, b.cache_entries);
}

}  // namespace

std::vector<std::string> keep_restart_only_settings(const Config& running, Config& loaded) {
  std::vector<std::string> changed;
  if (!same_listeners(running.listeners, loaded.listeners)) changed.push_back("listeners");
  if (!same_directory(running.directory, loaded.directory)) changed.push_back("directory");
  if (running.admin_listen != loaded.admin_listen) changed.push_back("admin.listen");
  if (running.access_log != loaded.access_log) changed.push_back("access_log");
  if (running.workers != loaded.workers) changed.push_back("workers");
  // The shared connection counters (ConnectionLimits) are made with these.
  if (running.limits.max_connections != loaded.limits.max_connections) {
    changed.push_back("limits.max_connections");
  }
  if (running.limits.max_connections_per_address != loaded.limits.max_connections_per_address) {
    changed.push_back("limits.max_connections_per_address");
  }
  loaded.limits.max_connections = running.limits.max_connections;
  loaded.limits.max_connections_per_address = running.limits.max_connections_per_address;
  loaded.listeners = running.listeners;
  loaded.directory = running.directory;
  loaded.admin_listen = running.admin_listen;
  loaded.admin_address = running.admin_address;
  loaded.access_log = running.access_log;
  loaded.workers = running.workers;
  return changed;
}

}  // namespace podgate::proxy
