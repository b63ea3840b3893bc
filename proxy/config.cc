#include "proxy/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "core/http/http_message.h"

namespace podgate::proxy {

using nlohmann::json;

namespace {

void only_keys(const json& object, const std::string& where, const std::set<std::string>& known) {
  if (!object.is_object()) throw ConfigError(where + " must be a JSON object");
  for (const auto& [key, value] : object.items()) {
    if (!known.count(key)) throw ConfigError(where + ": unknown key \"" + key + "\"");
  }
}

std::string string_at(const json& object, const std::string& key, const std::string& where) {
  auto found = object.find(key);
  if (found == object.end() || !found->is_string() || found->get<std::string>().empty()) {
    throw ConfigError(where + ": \"" + key + "\" must be a non-empty string");
  }
  return found->get<std::string>();
}

template <typename Number>
void read_number(const json& object, const std::string& key, const std::string& where, Number& into,
                 std::uint64_t minimum = 1) {
  auto found = object.find(key);
  if (found == object.end()) return;
  if (!found->is_number_unsigned() || found->get<std::uint64_t>() < minimum ||
      found->get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max()) {
    throw ConfigError(where + ": \"" + key + "\" must be a whole number of at least " +
                      std::to_string(minimum));
  }
  into = static_cast<Number>(found->get<std::uint64_t>());
}

std::string resolve(const std::filesystem::path& base, const std::string& path) {
  if (path == "-" || std::filesystem::path(path).is_absolute()) return path;
  return (base / path).string();
}

std::vector<sasl::Mechanism> read_mechanisms(const json& names, const std::string& where) {
  if (!names.is_array() || names.empty() ||
      !std::all_of(names.begin(), names.end(), [](const json& n) { return n.is_string(); })) {
    throw ConfigError(where + ": \"mechanisms\" must be a non-empty list of SASL mechanism names");
  }
  std::vector<sasl::Mechanism> mechanisms;
  for (const json& entry : names) {
    const std::string name = entry.get<std::string>();
    std::optional<sasl::Mechanism> mechanism = sasl::mechanism_named(name);
    if (!mechanism) {
      throw ConfigError(where + ": unknown mechanism \"" + name + "\" in \"mechanisms\" (known: " +
                        sasl::mechanism_list(sasl::all_mechanisms(), "", ", ") + ")");
    }
    if (std::find(mechanisms.begin(), mechanisms.end(), *mechanism) != mechanisms.end()) {
      throw ConfigError(where + ": \"mechanisms\" names " +
                        std::string(sasl::to_string(*mechanism)) + " twice");
    }
    mechanisms.push_back(*mechanism);
  }
  return mechanisms;
}

ListenerConfig read_listener(const json& entry, const std::string& where) {
  only_keys(entry, where, {"protocol", "listen", "tls", "mechanisms"});
  ListenerConfig listener;
  std::string protocol = string_at(entry, "protocol", where);
  auto parsed_protocol = directory::protocol_from_string(protocol);
  if (!parsed_protocol) throw ConfigError(where + ": unknown protocol \"" + protocol + "\"");
  listener.protocol = *parsed_protocol;
  listener.listen = string_at(entry, "listen", where);
  auto address = core::parse_socket_address(listener.listen);
  if (!address) {
    throw ConfigError(where + ": \"listen\" must be \"ip:port\", got \"" + listener.listen + "\"");
  }
  listener.address = *address;
  std::string tls = string_at(entry, "tls", where);
  if (tls == "implicit") {
    listener.tls = ListenerTls::Implicit;
  } else if (tls == "starttls") {
    listener.tls = ListenerTls::StartTls;
  } else {
    throw ConfigError(where + ": \"tls\" must be \"implicit\" or \"starttls\", got \"" + tls +
                      "\"");
  }
  if (entry.contains("mechanisms"))
    listener.mechanisms = read_mechanisms(entry["mechanisms"], where);
  return listener;
}

void check_http_url(const std::string& url, const std::string& where) {
  try {
    core::http::parse_url(url);
  } catch (const std::invalid_argument& error) {
    throw ConfigError(where + ": " + error.what());
  }
}

DirectoryConfig read_directory(const json& section, const std::filesystem::path& base) {
  only_keys(section, "directory",
            {"file", "url", "auth_http", "timeout_ms", "max_connections", "negative_ttl_seconds",
             "stale_seconds", "cache_entries"});
  DirectoryConfig directory;
  int sources = section.contains("file") + section.contains("url") + section.contains("auth_http");
  if (sources != 1) {
    throw ConfigError("directory: give exactly one of \"file\", \"url\" or \"auth_http\"");
  }
  if (section.contains("file")) {
    directory.source = DirectorySource::File;
    directory.file = resolve(base, string_at(section, "file", "directory"));
  } else if (section.contains("url")) {
    directory.source = DirectorySource::Http;
    const json& urls = section["url"];
    if (urls.is_string()) {
      directory.urls.push_back(urls.get<std::string>());
    } else if (urls.is_array() && !urls.empty() &&
               std::all_of(urls.begin(), urls.end(), [](const json& u) { return u.is_string(); })) {
      for (const auto& url : urls) directory.urls.push_back(url.get<std::string>());
    } else {
      throw ConfigError("directory: \"url\" must be a URL or a non-empty list of URLs");
    }
    for (const auto& url : directory.urls) check_http_url(url, "directory: \"url\"");
  } else {
    directory.source = DirectorySource::AuthHttp;
    directory.auth_http = string_at(section, "auth_http", "directory");
    check_http_url(directory.auth_http, "directory: \"auth_http\"");
  }
  read_number(section, "timeout_ms", "directory", directory.timeout_ms);
  read_number(section, "max_connections", "directory", directory.max_connections);
  read_number(section, "negative_ttl_seconds", "directory", directory.negative_ttl_seconds, 0);
  read_number(section, "stale_seconds", "directory", directory.stale_seconds, 0);
  read_number(section, "cache_entries", "directory", directory.cache_entries, 0);
  return directory;
}

ProtectionConfig read_protection(const json& section) {
  only_keys(
      section, "protection",
      {"enabled", "window_seconds", "tarpit_after_failures", "tarpit_step_ms", "tarpit_max_ms",
       "address_failures", "user_failures", "user_address_failures", "password_spray_users",
       "lockout_seconds", "known_good_seconds", "table_entries", "known_good_entries"});
  ProtectionConfig protection;
  if (auto enabled = section.find("enabled"); enabled != section.end()) {
    if (!enabled->is_boolean()) throw ConfigError("protection: \"enabled\" must be true or false");
    protection.enabled = enabled->get<bool>();
  }
  const std::string where = "protection";
  read_number(section, "window_seconds", where, protection.window_seconds);
  read_number(section, "tarpit_after_failures", where, protection.tarpit_after_failures);
  read_number(section, "tarpit_step_ms", where, protection.tarpit_step_ms, /*minimum=*/0);
  read_number(section, "tarpit_max_ms", where, protection.tarpit_max_ms, /*minimum=*/0);
  read_number(section, "address_failures", where, protection.address_failures);
  read_number(section, "user_failures", where, protection.user_failures);
  read_number(section, "user_address_failures", where, protection.user_address_failures);
  read_number(section, "password_spray_users", where, protection.password_spray_users);
  read_number(section, "lockout_seconds", where, protection.lockout_seconds);
  read_number(section, "known_good_seconds", where, protection.known_good_seconds, /*minimum=*/0);
  read_number(section, "table_entries", where, protection.table_entries, /*minimum=*/100);
  read_number(section, "known_good_entries", where, protection.known_good_entries,
              /*minimum=*/100);
  return protection;
}

}  // namespace

Config load_config(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw ConfigError("cannot open config file " + path);
  json document = json::parse(file, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) throw ConfigError("config file " + path + " is not valid JSON");
  std::filesystem::path base = std::filesystem::path(path).parent_path();

  Config config;
  only_keys(document, "config",
            {"listeners", "tls", "directory", "admin", "timeouts", "limits", "protection",
             "access_log", "workers"});
  read_number(document, "workers", "config", config.workers, /*minimum=*/0);
  if (config.workers > kMaxWorkers) {
    throw ConfigError("config: \"workers\" must be at most " + std::to_string(kMaxWorkers));
  }

  auto listeners = document.find("listeners");
  if (listeners == document.end() || !listeners->is_array() || listeners->empty()) {
    throw ConfigError("config: \"listeners\" must be a non-empty list");
  }
  for (std::size_t i = 0; i < listeners->size(); ++i) {
    config.listeners.push_back(
        read_listener((*listeners)[i], "listeners[" + std::to_string(i) + "]"));
  }

  // Absent required sections fail their own checks below; absent optional
  // ones read as empty objects, leaving the defaults.
  const json missing;
  const json empty = json::object();
  auto section = [&](const char* name, const json& fallback) -> const json& {
    auto found = document.find(name);
    return found == document.end() ? fallback : *found;
  };

  const json& tls = section("tls", missing);
  only_keys(tls, "tls", {"certificate", "private_key", "backend_ca"});
  config.certificate = resolve(base, string_at(tls, "certificate", "tls"));
  config.private_key = resolve(base, string_at(tls, "private_key", "tls"));
  if (tls.contains("backend_ca")) {
    config.backend_ca = resolve(base, string_at(tls, "backend_ca", "tls"));
  }

  config.directory = read_directory(section("directory", missing), base);

  if (const json& admin = section("admin", missing); !admin.is_null()) {
    only_keys(admin, "admin", {"listen"});
    config.admin_listen = string_at(admin, "listen", "admin");
    auto address = core::parse_socket_address(config.admin_listen);
    if (!address) {
      throw ConfigError("admin: \"listen\" must be \"ip:port\", got \"" + config.admin_listen +
                        "\"");
    }
    config.admin_address = *address;
  }

  if (document.contains("access_log")) {
    config.access_log = resolve(base, string_at(document, "access_log", "config"));
  }

  const json& timeouts = section("timeouts", empty);
  only_keys(timeouts, "timeouts",
            {"preauth_seconds", "idle_seconds", "backend_connect_seconds", "backend_auth_seconds",
             "auth_failure_delay_ms", "drain_seconds"});
  read_number(timeouts, "preauth_seconds", "timeouts", config.timeouts.preauth_seconds);
  read_number(timeouts, "idle_seconds", "timeouts", config.timeouts.idle_seconds);
  read_number(timeouts, "backend_connect_seconds", "timeouts",
              config.timeouts.backend_connect_seconds);
  read_number(timeouts, "backend_auth_seconds", "timeouts", config.timeouts.backend_auth_seconds);
  read_number(timeouts, "auth_failure_delay_ms", "timeouts", config.timeouts.auth_failure_delay_ms,
              /*minimum=*/0);
  read_number(timeouts, "drain_seconds", "timeouts", config.timeouts.drain_seconds,
              /*minimum=*/0);

  const json& limits = section("limits", empty);
  only_keys(limits, "limits",
            {"max_command_bytes", "max_invalid_commands", "max_connections",
             "max_connections_per_address", "max_auth_attempts"});
  read_number(limits, "max_command_bytes", "limits", config.limits.max_command_bytes);
  read_number(limits, "max_invalid_commands", "limits", config.limits.max_invalid_commands);
  read_number(limits, "max_connections", "limits", config.limits.max_connections);
  read_number(limits, "max_connections_per_address", "limits",
              config.limits.max_connections_per_address, /*minimum=*/0);
  read_number(limits, "max_auth_attempts", "limits", config.limits.max_auth_attempts);
  if (config.limits.max_command_bytes < 512) {
    throw ConfigError("limits: \"max_command_bytes\" must be at least 512");
  }
  config.protection = read_protection(section("protection", empty));
  return config;
}

}  // namespace podgate::proxy
