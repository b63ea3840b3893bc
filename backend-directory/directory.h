// The directory model: which pod holds a user's mailbox, and which servers of
// that pod speak each protocol. Loaded from the JSON document of DESIGN.md;
// an immutable snapshot once built, so readers on any thread may share it.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/address.h"

namespace podgate::directory {

enum class Protocol { Imap, Pop3, Smtp };
const char* to_string(Protocol protocol);

// User and domain names compare without regard to ASCII case: this is the
// one spelling every table keyed by a user uses.
std::string lower_case(std::string_view text);
std::optional<Protocol> protocol_from_string(std::string_view text);

class DirectoryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An nlohmann::json exception's message without its "[json.exception...] " tag.
std::string json_error_text(const std::exception& error);

struct Server {
  std::string text;  // as written in the directory, for logs
  core::SocketAddress address;
};

// What the proxy needs to log a user in to their pod.
struct Route {
  std::string pod;
  std::vector<Server> servers;  // in the order to try them
  bool protocol_enabled = true;
  // Passwords (PLAIN, LOGIN, IMAP LOGIN, POP3 USER/PASS) are accepted: a
  // tenant policy may allow modern authentication only.
  bool basic_auth = true;
  // How podgate logs in to the pod's SMTP servers: "plain" or "login".
  std::string smtp_auth = "plain";
  // TLS from podgate to the pod's servers: "none" or "implicit" (TLS from
  // the first byte, as on ports 993/995/465).
  std::string backend_tls = "none";
};

// One server of one pod for one protocol (a server may serve several pods).
struct PodServer {
  std::string pod;
  Protocol protocol;
  Server server;
  std::string backend_tls = "none";  // the pod's: how the server is reached
};

class Directory {
 public:
  // Throws DirectoryError with a message naming the offending entry.
  static std::shared_ptr<const Directory> from_json(const nlohmann::json& document);
  static std::shared_ptr<const Directory> load_file(const std::string& path);

  // Looks the user up exactly (case-insensitively), then by the domain after
  // the last '@'. nullopt when neither is known. A listed user's domain
  // entry still applies its policy: "basic_auth", "imap", "pop3" or "smtp"
  // false on either turns that off.
  std::optional<Route> lookup(std::string_view user, Protocol protocol) const;

  std::size_t user_count() const { return users_.size(); }
  std::size_t pod_count() const { return pods_.size(); }

  // Every server of every pod for the protocol, each once, for probes.
  std::vector<Server> all_servers(Protocol protocol) const;
  // Every (pod, protocol, server) triple, pods in name order, for health gauges.
  std::vector<PodServer> pod_servers() const;

 private:
  struct Pod {
    std::map<Protocol, std::vector<Server>> servers;
    std::string smtp_auth = "plain";
    std::string backend_tls = "none";
  };
  // A user's or a domain's entry: its pod and its tenant policy.
  struct Assignment {
    std::string pod;
    std::map<Protocol, bool> enabled;  // absent means enabled
    bool basic_auth = true;
  };
  // The route of `assignment`'s pod, under its policy and that of
  // `domain` (a listed user's domain, if listed): what either turns off is off.
  Route route_for(const Assignment& assignment, const Assignment* domain, Protocol protocol) const;

  std::map<std::string, Pod> pods_;
  std::map<std::string, Assignment> users_;    // keys lower-cased
  std::map<std::string, Assignment> domains_;  // keys lower-cased
};

}  // namespace podgate::directory
