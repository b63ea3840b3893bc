#include "backend-directory/directory_api.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "backend-directory/lookup_answer.h"

namespace podgate::directory {

using core::http::Request;
using core::http::Response;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxNameBytes = 512;

// Never throws on odd bytes (a user name from a query string may be anything).
std::string to_text(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

Response json_response(int status, const json& body) {
  return Response::json(status, to_text(body));
}

Response error(int status, const std::string& reason) {
  return json_response(status, json{{"error", reason}});
}

Response method_not_allowed(const char* allowed) {
  Response response = error(405, "method not allowed");
  response.headers.emplace_back("Allow", allowed);
  return response;
}

// "" when the name may be stored; else why not.
std::string check_name(const std::string& name, const char* what) {
  if (name.empty()) return std::string("the ") + what + " name is empty";
  if (name.size() > kMaxNameBytes) return std::string("the ") + what + " name is too long";
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return std::string("the ") + what + " name has a control character";
    }
  }
  try {
    (void)json(name).dump();  // throws on invalid UTF-8
  } catch (const json::exception&) {
    return std::string("the ") + what + " name is not valid UTF-8";
  }
  return "";
}

// The target's path split at '/', each segment percent-decoded on its own
// (so "a%2Fb" stays one segment). nullopt on a bad escape.
std::optional<std::vector<std::string>> path_segments(const std::string& target) {
  std::string_view path = target;
  path = path.substr(0, path.find_first_of("?#"));
  std::vector<std::string> segments;
  if (path.empty() || path.front() != '/') return std::nullopt;
  path.remove_prefix(1);
  while (true) {
    std::size_t slash = path.find('/');
    auto decoded = core::http::percent_decode(path.substr(0, slash), /*plus_is_space=*/false);
    if (!decoded) return std::nullopt;
    segments.push_back(std::move(*decoded));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

std::optional<json> parse_body(const std::string& body, std::string& problem) {
  try {
    return json::parse(body);
  } catch (const json::parse_error& parse_error) {
    problem = "malformed JSON: " + json_error_text(parse_error);
    return std::nullopt;
  }
}

}  // namespace

// Users, domains and pods share one shape: GET the entry, PUT a whole new one, DELETE it.
struct DirectoryApi::EntryKind {
  const char* name;
  std::optional<nlohmann::json> (DirectoryStore::*get)(std::string_view) const;
  EditResult (DirectoryStore::*put)(std::string_view, const nlohmann::json&);
  EditResult (DirectoryStore::*remove)(std::string_view);
};

namespace {
constexpr DirectoryApi::EntryKind kUsers{"user", &DirectoryStore::user_entry,
                                         &DirectoryStore::put_user, &DirectoryStore::delete_user};
constexpr DirectoryApi::EntryKind kDomains{"domain", &DirectoryStore::domain_entry,
                                           &DirectoryStore::put_domain,
                                           &DirectoryStore::delete_domain};
constexpr DirectoryApi::EntryKind kPods{"pod", &DirectoryStore::pod_entry, &DirectoryStore::put_pod,
                                        &DirectoryStore::delete_pod};
}  // namespace

DirectoryApi::DirectoryApi(DirectoryStore& store, ServerHealth* health,
                           core::metrics::Registry& metrics, ApiOptions options)
    : store_(store),
      health_(health),
      metrics_(metrics),
      options_(options),
      requests_(metrics.counter("podgate_directory_requests_total",
                                "HTTP requests answered by podgate-directory")),
      lookups_found_(metrics.counter("podgate_directory_lookups_total", "Lookups by result",
                                     core::metrics::label("result", "found"))),
      lookups_unknown_(metrics.counter("podgate_directory_lookups_total", "Lookups by result",
                                       core::metrics::label("result", "unknown"))),
      lookups_no_server_(metrics.counter("podgate_directory_lookups_total", "Lookups by result",
                                         core::metrics::label("result", "no_server"))),
      lookups_bad_request_(metrics.counter("podgate_directory_lookups_total", "Lookups by result",
                                           core::metrics::label("result", "bad_request"))),
      reloads_ok_(metrics.counter("podgate_directory_reloads_total",
                                  "Reloads of the directory file by result",
                                  core::metrics::label("result", "ok"))),
      reloads_failed_(metrics.counter("podgate_directory_reloads_total",
                                      "Reloads of the directory file by result",
                                      core::metrics::label("result", "failed"))),
      edits_ok_(metrics.counter("podgate_directory_edits_total",
                                "Edits through the API by result (rejected: invalid, unknown "
                                "or still referenced; failed: the file could not be written)",
                                core::metrics::label("result", "ok"))),
      edits_rejected_(metrics.counter("podgate_directory_edits_total", "",
                                      core::metrics::label("result", "rejected"))),
      edits_failed_(metrics.counter("podgate_directory_edits_total", "",
                                    core::metrics::label("result", "failed"))) {
  metrics.gauge_callback("podgate_directory_users", "Users in the directory", "",
                         [this] { return static_cast<double>(store_.directory()->user_count()); });
  metrics.gauge_callback("podgate_directory_pods", "Pods in the directory", "",
                         [this] { return static_cast<double>(store_.directory()->pod_count()); });
  if (health_ != nullptr && store_.directory()) health_->set_directory(*store_.directory());
}

Response DirectoryApi::handle(const Request& request) {
  requests_.add();
  Response response;
  try {
    auto segments = path_segments(request.target);
    if (!segments) {
      response = error(400, "bad path");
    } else if (*segments == std::vector<std::string>{"v1", "lookup"}) {
      response = lookup(request);
    } else if (segments->size() == 3 && (*segments)[0] == "v1" && (*segments)[1] == "users") {
      response = entry(request, kUsers, (*segments)[2]);
    } else if (segments->size() == 3 && (*segments)[0] == "v1" && (*segments)[1] == "domains") {
      response = entry(request, kDomains, (*segments)[2]);
    } else if (segments->size() == 3 && (*segments)[0] == "v1" && (*segments)[1] == "pods") {
      response = entry(request, kPods, (*segments)[2]);
    } else if (*segments == std::vector<std::string>{"healthz"}) {
      if (request.method != "GET") {
        response = method_not_allowed("GET");
      } else {
        auto directory = store_.directory();
        response = json_response(200, json{{"status", "ok"},
                                           {"users", directory->user_count()},
                                           {"pods", directory->pod_count()}});
      }
    } else if (*segments == std::vector<std::string>{"metrics"}) {
      response = request.method == "GET" ? metrics_page() : method_not_allowed("GET");
    } else {
      response = error(404, "not found");
    }
  } catch (const std::exception& failure) {
    spdlog::error("{} {}: {}", request.method, request.path(), failure.what());
    response = error(500, "internal error");
  }
  // The target may hold a user name: only the path, and only at debug level.
  spdlog::debug("{} {} {}", request.method, request.target.substr(0, request.target.find('?')),
                response.status);
  return response;
}

Response DirectoryApi::lookup(const Request& request) {
  if (request.method != "GET") return method_not_allowed("GET");
  auto query = request.query();
  auto bad = [&](const std::string& reason) {
    lookups_bad_request_.add();
    return error(400, reason);
  };
  auto user = query.find("user");
  if (user == query.end() || user->second.empty()) return bad("missing user parameter");
  if (user->second.size() > kMaxNameBytes) return bad("user parameter too long");
  auto protocol_text = query.find("protocol");
  if (protocol_text == query.end()) return bad("missing protocol parameter");
  auto protocol = protocol_from_string(protocol_text->second);
  if (!protocol) return bad("protocol must be imap, pop3 or smtp");

  auto route = store_.directory()->lookup(user->second, *protocol);
  if (!route) {
    lookups_unknown_.add();
    return error(404, "unknown user");
  }
  if (health_ != nullptr) {
    std::erase_if(route->servers,
                  [&](const Server& server) { return !health_->is_up(*protocol, server.text); });
  }
  (route->servers.empty() ? lookups_no_server_ : lookups_found_).add();
  return json_response(200,
                       encode_lookup_answer(user->second, *protocol, *route, options_.ttl_seconds));
}

Response DirectoryApi::entry(const Request& request, const EntryKind& kind,
                             const std::string& name) {
  if (request.method == "GET") {
    auto entry = (store_.*kind.get)(name);
    return entry ? json_response(200, *entry) : error(404, std::string("unknown ") + kind.name);
  }
  if (request.method == "PUT") {
    if (std::string problem = check_name(name, kind.name); !problem.empty()) {
      edits_rejected_.add();
      return error(400, problem);
    }
    std::string problem;
    auto body = parse_body(request.body, problem);
    if (!body) {
      edits_rejected_.add();
      return error(400, problem);
    }
    return answer_edit((store_.*kind.put)(name, *body), kind.name, name);
  }
  if (request.method == "DELETE") {
    return answer_edit((store_.*kind.remove)(name), kind.name, name);
  }
  return method_not_allowed("GET, PUT, DELETE");
}

Response DirectoryApi::answer_edit(const EditResult& result, const char* what,
                                   const std::string& name) {
  switch (result.outcome) {
    case EditOutcome::Created:
    case EditOutcome::Updated:
    case EditOutcome::Deleted:
      edits_ok_.add();
      directory_changed();
      spdlog::info("{} \"{}\" {} through the API", what, name, to_string(result.outcome));
      if (result.outcome == EditOutcome::Deleted)
        return json_response(200, json{{"deleted", true}});
      return json_response(result.outcome == EditOutcome::Created ? 201 : 200, result.entry);
    case EditOutcome::NotFound:
      return error(404, std::string("unknown ") + what);
    case EditOutcome::Invalid:
      edits_rejected_.add();
      return error(400, result.error);
    case EditOutcome::Conflict:
      edits_rejected_.add();
      return error(409, result.error);
    case EditOutcome::WriteFailed:
      edits_failed_.add();
      spdlog::error("{} \"{}\" not saved: {}", what, name, result.error);
      return error(500, "cannot write the directory file: " + result.error);
  }
  return error(500, "internal error");
}

Response DirectoryApi::metrics_page() {
  std::string text = metrics_.render();
  if (health_ != nullptr) text += health_->metrics_text();
  return Response::text(200, std::move(text));
}

ReloadResult DirectoryApi::reload(bool forced) {
  ReloadResult result = store_.reload();
  if (!result.ok) {
    reloads_failed_.add();
  } else if (result.changed || forced) {
    reloads_ok_.add();
  }
  if (result.changed) directory_changed();
  return result;
}

void DirectoryApi::directory_changed() {
  if (health_ != nullptr) health_->set_directory(*store_.directory());
}

}  // namespace podgate::directory
