#include "backend-directory/directory.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

namespace podgate::directory {

using nlohmann::json;

namespace {

constexpr Protocol kProtocols[] = {Protocol::Imap, Protocol::Pop3, Protocol::Smtp};

void require_object(const json& value, const std::string& where) {
  if (!value.is_object()) throw DirectoryError(where + " must be a JSON object");
}

}  // namespace

std::string json_error_text(const std::exception& error) {
  // nlohmann's messages start with "[json.exception.parse_error.101] ".
  std::string_view text = error.what();
  if (!text.empty() && text.front() == '[') {
    if (std::size_t end = text.find("] "); end != std::string_view::npos)
      text.remove_prefix(end + 2);
  }
  return std::string(text);
}

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

std::string lower_case(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return result;
}

std::optional<Protocol> protocol_from_string(std::string_view text) {
  for (Protocol protocol : kProtocols) {
    if (text == to_string(protocol)) return protocol;
  }
  return std::nullopt;
}

std::shared_ptr<const Directory> Directory::load_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw DirectoryError("cannot open directory file " + path);
  json document;
  try {
    document = json::parse(file);
  } catch (const json::parse_error& error) {
    throw DirectoryError("directory file " + path +
                         " is not valid JSON: " + json_error_text(error));
  }
  try {
    return from_json(document);
  } catch (const DirectoryError& error) {
    throw DirectoryError("directory file " + path + ": " + error.what());
  }
}

std::shared_ptr<const Directory> Directory::from_json(const json& document) {
  auto directory = std::make_shared<Directory>();
  require_object(document, "the directory");
  for (const auto& [key, value] : document.items()) {
    if (key != "pods" && key != "users" && key != "domains") {
      throw DirectoryError("unknown top-level key \"" + key + "\"");
    }
    require_object(value, "\"" + key + "\"");
  }

  const json no_entries = json::object();
  auto section = [&](const char* name) -> const json& {
    auto found = document.find(name);
    return found == document.end() ? no_entries : *found;
  };

  for (const auto& [name, pod_json] : section("pods").items()) {
    std::string where = "pod \"" + name + "\"";
    require_object(pod_json, where);
    Pod pod;
    for (const auto& [key, servers] : pod_json.items()) {
      if (key == "smtp_auth") {
        if (servers != "plain" && servers != "login") {
          throw DirectoryError(where + ": \"smtp_auth\" must be \"plain\" or \"login\"");
        }
        pod.smtp_auth = servers.get<std::string>();
        continue;
      }
      if (key == "backend_tls") {
        if (servers != "none" && servers != "implicit") {
          throw DirectoryError(where + ": backend_tls must be \"none\" or \"implicit\", not " +
                               servers.dump());
        }
        pod.backend_tls = servers.get<std::string>();
        continue;
      }
      auto protocol = protocol_from_string(key);
      if (!protocol) throw DirectoryError(where + ": unknown key \"" + key + "\"");
      if (!servers.is_array()) {
        throw DirectoryError(where + ": \"" + key + "\" must be a list of \"ip:port\" strings");
      }
      for (const json& server : servers) {
        auto address = server.is_string() ? core::parse_socket_address(server.get<std::string>())
                                          : std::nullopt;
        if (!address) {
          throw DirectoryError(where + ": \"" + key + "\" has " + server.dump() +
                               ", expected \"ip:port\"");
        }
        pod.servers[*protocol].push_back(Server{server.get<std::string>(), *address});
      }
    }
    directory->pods_.emplace(name, std::move(pod));
  }

  auto read_assignments = [&](const char* section_name, std::map<std::string, Assignment>& into) {
    for (const auto& [name, entry] : section(section_name).items()) {
      std::string where = std::string(section_name) + " entry \"" + name + "\"";
      require_object(entry, where);
      Assignment assignment;
      for (const auto& [key, value] : entry.items()) {
        if (key == "pod") {
          if (!value.is_string()) throw DirectoryError(where + ": \"pod\" must be a string");
          assignment.pod = value.get<std::string>();
        } else if (auto protocol = protocol_from_string(key)) {
          if (!value.is_boolean())
            throw DirectoryError(where + ": \"" + key + "\" must be true or false");
          assignment.enabled[*protocol] = value.get<bool>();
        } else if (key == "basic_auth") {
          if (!value.is_boolean())
            throw DirectoryError(where + ": \"basic_auth\" must be true or false");
          assignment.basic_auth = value.get<bool>();
        } else {
          throw DirectoryError(where + ": unknown key \"" + key + "\"");
        }
      }
      if (assignment.pod.empty()) throw DirectoryError(where + " has no \"pod\"");
      if (!directory->pods_.count(assignment.pod)) {
        throw DirectoryError(where + " points to unknown pod \"" + assignment.pod + "\"");
      }
      if (!into.emplace(lower_case(name), std::move(assignment)).second) {
        throw DirectoryError(where + " is listed twice (names are case-insensitive)");
      }
    }
  };
  read_assignments("users", directory->users_);
  read_assignments("domains", directory->domains_);
  return directory;
}

Route Directory::route_for(const Assignment& assignment, const Assignment* domain,
                           Protocol protocol) const {
  Route route;
  route.pod = assignment.pod;
  const Pod& pod = pods_.at(assignment.pod);
  route.smtp_auth = pod.smtp_auth;
  route.backend_tls = pod.backend_tls;
  if (auto servers = pod.servers.find(protocol); servers != pod.servers.end()) {
    route.servers = servers->second;
  }
  for (const Assignment* policy : {&assignment, domain}) {
    if (policy == nullptr) continue;
    if (auto enabled = policy->enabled.find(protocol); enabled != policy->enabled.end()) {
      route.protocol_enabled = route.protocol_enabled && enabled->second;
    }
    route.basic_auth = route.basic_auth && policy->basic_auth;
  }
  return route;
}

std::vector<Server> Directory::all_servers(Protocol protocol) const {
  std::vector<Server> servers;
  for (const auto& [name, pod] : pods_) {
    auto found = pod.servers.find(protocol);
    if (found == pod.servers.end()) continue;
    for (const Server& server : found->second) {
      bool known = std::any_of(servers.begin(), servers.end(),
                               [&](const Server& seen) { return seen.text == server.text; });
      if (!known) servers.push_back(server);
    }
  }
  return servers;
}

std::vector<PodServer> Directory::pod_servers() const {
  std::vector<PodServer> result;
  for (const auto& [name, pod] : pods_) {
    for (const auto& [protocol, servers] : pod.servers) {
      for (const Server& server : servers) {
        result.push_back(PodServer{name, protocol, server, pod.backend_tls});
      }
    }
  }
  return result;
}

std::optional<Route> Directory::lookup(std::string_view user, Protocol protocol) const {
  std::string key = lower_case(user);
  const Assignment* domain = nullptr;
  if (std::size_t at = key.rfind('@'); at != std::string::npos) {
    if (auto found = domains_.find(key.substr(at + 1)); found != domains_.end()) {
      domain = &found->second;
    }
  }
  if (auto found = users_.find(key); found != users_.end()) {
    return route_for(found->second, domain, protocol);
  }
  if (domain) return route_for(*domain, nullptr, protocol);
  return std::nullopt;
}

}  // namespace podgate::directory
