#include "backend-directory/lookup_answer.h"

#include <limits>
#include <nlohmann/json.hpp>

namespace podgate::directory {

using nlohmann::json;

namespace {

const json& field(const json& body, const char* name) {
  auto found = body.find(name);
  if (found == body.end()) {
    throw DirectoryError(std::string("lookup answer has no \"") + name + "\"");
  }
  return *found;
}

std::string string_field(const json& body, const char* name, const char* fallback) {
  auto found = body.find(name);
  if (found == body.end() && fallback != nullptr) return fallback;
  const json& value = found == body.end() ? field(body, name) : *found;
  if (!value.is_string()) {
    throw DirectoryError(std::string("lookup answer: \"") + name + "\" must be a string");
  }
  return value.get<std::string>();
}

}  // namespace

json encode_lookup_answer(std::string_view user, Protocol protocol, const Route& route,
                          std::uint32_t ttl_seconds) {
  json servers = json::array();
  for (const Server& server : route.servers) servers.push_back(server.text);
  json answer = {
      {"user", std::string(user)},
      {"protocol", to_string(protocol)},
      {"pod", route.pod},
      {"enabled", route.protocol_enabled},
      {"basic_auth", route.basic_auth},
      {"servers", std::move(servers)},
      {"backend_tls", route.backend_tls},
      {"smtp_auth", route.smtp_auth},
      {"ttl", ttl_seconds},
  };
  if (route.servers.empty()) {
    answer["error"] = "no server available";
    answer["ttl"] = 0;  // worth asking again as soon as a probe sees a server back
  }
  return answer;
}

LookupAnswer decode_lookup_answer(const json& body) {
  if (!body.is_object()) throw DirectoryError("lookup answer must be a JSON object");
  LookupAnswer answer;
  Route& route = answer.route;

  route.pod = string_field(body, "pod", nullptr);
  if (route.pod.empty()) throw DirectoryError("lookup answer: \"pod\" is empty");

  const json& enabled = field(body, "enabled");
  if (!enabled.is_boolean()) {
    throw DirectoryError("lookup answer: \"enabled\" must be true or false");
  }
  route.protocol_enabled = enabled.get<bool>();
  // Absent in answers of older services: passwords allowed, as before.
  if (auto basic_auth = body.find("basic_auth"); basic_auth != body.end()) {
    if (!basic_auth->is_boolean()) {
      throw DirectoryError("lookup answer: \"basic_auth\" must be true or false");
    }
    route.basic_auth = basic_auth->get<bool>();
  }

  const json& servers = field(body, "servers");
  if (!servers.is_array()) throw DirectoryError("lookup answer: \"servers\" must be a list");
  for (const json& server : servers) {
    auto address =
        server.is_string() ? core::parse_socket_address(server.get<std::string>()) : std::nullopt;
    if (!address) {
      throw DirectoryError("lookup answer: \"servers\" has " + server.dump() +
                           ", expected \"ip:port\"");
    }
    route.servers.push_back(Server{server.get<std::string>(), *address});
  }

  // Absent in answers of older services: the defaults of the model.
  route.backend_tls = string_field(body, "backend_tls", "none");
  if (route.backend_tls != "none" && route.backend_tls != "implicit") {
    // Logging in over clear text where the pod expects TLS would leak passwords.
    throw DirectoryError("lookup answer: \"backend_tls\" \"" + route.backend_tls +
                         "\" is not supported (\"none\" or \"implicit\")");
  }
  route.smtp_auth = string_field(body, "smtp_auth", "plain");
  if (route.smtp_auth != "plain" && route.smtp_auth != "login") {
    throw DirectoryError("lookup answer: \"smtp_auth\" must be \"plain\" or \"login\"");
  }

  const json& ttl = field(body, "ttl");
  if (!ttl.is_number_integer() || ttl.get<std::int64_t>() < 0 ||
      ttl.get<std::int64_t>() > std::numeric_limits<std::uint32_t>::max()) {
    throw DirectoryError("lookup answer: \"ttl\" must be a whole number of seconds");
  }
  answer.ttl_seconds = static_cast<std::uint32_t>(ttl.get<std::int64_t>());
  return answer;
}

}  // namespace podgate::directory
