#include "backend-directory/directory_store.h"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

namespace podgate::directory {

using nlohmann::json;

namespace {

std::string lower(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return result;
}

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// The key of `name` in a section whose keys compare case-insensitively.
std::optional<std::string> find_key_ignoring_case(const json& section, std::string_view name) {
  std::string wanted = lower(name);
  for (const auto& [key, value] : section.items()) {
    if (lower(key) == wanted) return key;
  }
  return std::nullopt;
}

const json* section(const json& document, const char* name) {
  auto found = document.find(name);
  return found == document.end() ? nullptr : &*found;
}

}  // namespace

const char* to_string(EditOutcome outcome) {
  switch (outcome) {
    case EditOutcome::Created:
      return "created";
    case EditOutcome::Updated:
      return "updated";
    case EditOutcome::Deleted:
      return "deleted";
    case EditOutcome::NotFound:
      return "not_found";
    case EditOutcome::Invalid:
      return "invalid";
    case EditOutcome::Conflict:
      return "conflict";
    case EditOutcome::WriteFailed:
      return "write_failed";
  }
  return "unknown";
}

void write_file_atomically(const std::string& path, std::string_view text) {
  std::size_t slash = path.rfind('/');
  std::string folder =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string temporary = folder + "/." + base + ".tmp-XXXXXX";

  int fd = ::mkstemp(temporary.data());
  if (fd < 0) throw DirectoryError(errno_text("cannot create a temporary file in " + folder));
  auto fail = [&](const std::string& step) {
    DirectoryError error(errno_text(step + " " + temporary));
    if (fd >= 0) ::close(fd);
    ::unlink(temporary.c_str());
    throw error;
  };
  // The new file keeps the old one's permissions (mkstemp makes it 0600).
  struct stat old_file {};
  mode_t mode = ::stat(path.c_str(), &old_file) == 0 ? (old_file.st_mode & 07777) : 0644;
  if (::fchmod(fd, mode) != 0) fail("cannot set the mode of");
  for (std::size_t written = 0; written < text.size();) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write");
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("cannot fsync");
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0) fail("cannot close");
  if (::rename(temporary.c_str(), path.c_str()) != 0) fail("cannot rename over " + path + ":");

  // The rename is durable once the folder's entry is.
  int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_fd < 0) throw DirectoryError(errno_text("cannot open folder " + folder));
  int synced = ::fsync(folder_fd);
  int saved_errno = errno;
  ::close(folder_fd);
  if (synced != 0) {
    // The new file is in place already: the change happened, it may only
    // not survive a power cut. Saying "not saved" would be the wrong story.
    errno = saved_errno;
    spdlog::warn("{}", errno_text("cannot fsync folder " + folder));
  }
}

DirectoryStore::DirectoryStore(std::string path) : path_(std::move(path)) {}

json DirectoryStore::read_file() const {
  std::ifstream file(path_, std::ios::binary);
  if (!file) throw DirectoryError(errno_text("cannot open directory file " + path_));
  std::stringstream text;
  text << file.rdbuf();
  if (file.bad()) throw DirectoryError(errno_text("cannot read directory file " + path_));
  try {
    return json::parse(text.str());
  } catch (const json::parse_error& error) {
    throw DirectoryError("directory file " + path_ +
                         " is not valid JSON: " + json_error_text(error));
  }
}

void DirectoryStore::write_file(const json& document) const {
  write_file_atomically(path_, document.dump(2) + "\n");
}

std::shared_ptr<const Directory> DirectoryStore::model_of_file(const json& document) const {
  try {
    return Directory::from_json(document);
  } catch (const DirectoryError& error) {
    throw DirectoryError("directory file " + path_ + ": " + error.what());
  }
}

void DirectoryStore::load() {
  json document = read_file();
  directory_ = model_of_file(document);
  document_ = std::move(document);
}

ReloadResult DirectoryStore::reload() {
  ReloadResult result;
  try {
    json document = read_file();
    if (directory_ && document == document_) {
      result.ok = true;
      return result;
    }
    directory_ = model_of_file(document);
    document_ = std::move(document);
    result.ok = true;
    result.changed = true;
  } catch (const DirectoryError& error) {
    result.error = error.what();
  }
  return result;
}

std::optional<json> DirectoryStore::assignment_entry(const char* section_name,
                                                     std::string_view name) const {
  const json* entries = section(document_, section_name);
  if (entries == nullptr) return std::nullopt;
  auto key = find_key_ignoring_case(*entries, name);
  if (!key) return std::nullopt;
  return entries->at(*key);
}

std::optional<json> DirectoryStore::user_entry(std::string_view user) const {
  return assignment_entry("users", user);
}

std::optional<json> DirectoryStore::domain_entry(std::string_view domain) const {
  return assignment_entry("domains", domain);
}

std::optional<json> DirectoryStore::pod_entry(std::string_view pod) const {
  const json* pods = section(document_, "pods");
  if (pods == nullptr) return std::nullopt;
  auto found = pods->find(std::string(pod));
  if (found == pods->end()) return std::nullopt;
  return *found;
}

EditResult DirectoryStore::commit(json candidate, EditOutcome outcome, json entry) {
  // Someone edited the file by hand since we read it: writing our document
  // over it would silently undo their change. (A file that is gone has no
  // change to protect; the edit writes it anew.)
  if (std::filesystem::exists(path_)) {
    try {
      if (read_file() != document_) {
        return EditResult{EditOutcome::Conflict,
                          "the directory file changed on disk since it was loaded; it is "
                          "reloaded within a second (or on SIGHUP), then try again",
                          {}};
      }
    } catch (const DirectoryError& error) {
      return EditResult{EditOutcome::Conflict, error.what(), {}};
    }
  }
  std::shared_ptr<const Directory> directory;
  try {
    directory = Directory::from_json(candidate);
  } catch (const DirectoryError& error) {
    return EditResult{EditOutcome::Invalid, error.what(), {}};
  }
  try {
    write_file(candidate);
  } catch (const DirectoryError& error) {
    return EditResult{EditOutcome::WriteFailed, error.what(), {}};
  }
  document_ = std::move(candidate);
  directory_ = std::move(directory);
  return EditResult{outcome, "", std::move(entry)};
}

EditResult DirectoryStore::put_assignment(const char* section_name, const char* kind,
                                          std::string_view name, const json& body) {
  if (name.empty()) {
    return EditResult{EditOutcome::Invalid, std::string("the ") + kind + " name is empty", {}};
  }
  json candidate = document_;
  json& entries = candidate[section_name];
  if (entries.is_null()) entries = json::object();
  EditOutcome outcome = EditOutcome::Created;
  if (auto key = find_key_ignoring_case(entries, name)) {
    entries.erase(*key);
    outcome = EditOutcome::Updated;
  }
  entries[lower(name)] = body;
  return commit(std::move(candidate), outcome, body);
}

EditResult DirectoryStore::delete_assignment(const char* section_name, const char* kind,
                                             std::string_view name) {
  const std::string unknown = std::string("unknown ") + kind;
  json candidate = document_;
  auto entries = candidate.find(section_name);
  if (entries == candidate.end()) return EditResult{EditOutcome::NotFound, unknown, {}};
  auto key = find_key_ignoring_case(*entries, name);
  if (!key) return EditResult{EditOutcome::NotFound, unknown, {}};
  json removed = entries->at(*key);
  entries->erase(*key);
  return commit(std::move(candidate), EditOutcome::Deleted, std::move(removed));
}

EditResult DirectoryStore::put_user(std::string_view user, const json& body) {
  return put_assignment("users", "user", user, body);
}

EditResult DirectoryStore::delete_user(std::string_view user) {
  return delete_assignment("users", "user", user);
}

EditResult DirectoryStore::put_domain(std::string_view domain, const json& body) {
  return put_assignment("domains", "domain", domain, body);
}

EditResult DirectoryStore::delete_domain(std::string_view domain) {
  return delete_assignment("domains", "domain", domain);
}

EditResult DirectoryStore::put_pod(std::string_view pod, const json& body) {
  if (pod.empty()) return EditResult{EditOutcome::Invalid, "the pod name is empty", {}};
  json candidate = document_;
  json& pods = candidate["pods"];
  if (pods.is_null()) pods = json::object();
  std::string name(pod);
  EditOutcome outcome = pods.contains(name) ? EditOutcome::Updated : EditOutcome::Created;
  pods[name] = body;
  return commit(std::move(candidate), outcome, body);
}

EditResult DirectoryStore::delete_pod(std::string_view pod) {
  std::string name(pod);
  json candidate = document_;
  auto pods = candidate.find("pods");
  if (pods == candidate.end() || !pods->contains(name)) {
    return EditResult{EditOutcome::NotFound, "unknown pod", {}};
  }
  // Name a few of the entries that still point here, so the operator knows
  // what to move first.
  std::vector<std::string> referrers;
  std::size_t count = 0;
  for (const auto& [section_name, kind] : {std::pair{"users", "user"}, {"domains", "domain"}}) {
    const json* entries = section(candidate, section_name);
    if (entries == nullptr) continue;
    for (const auto& [key, entry] : entries->items()) {
      auto target = entry.find("pod");
      if (target == entry.end() || *target != name) continue;
      if (++count <= 3) referrers.push_back(std::string(kind) + " \"" + key + "\"");
    }
  }
  if (count > 0) {
    std::string reason = "pod \"" + name + "\" is still used by ";
    for (std::size_t i = 0; i < referrers.size(); ++i) {
      if (i > 0) reason += ", ";
      reason += referrers[i];
    }
    if (count > referrers.size()) {
      reason += " and " + std::to_string(count - referrers.size()) + " more";
    }
    return EditResult{EditOutcome::Conflict, reason, {}};
  }
  json removed = pods->at(name);
  pods->erase(name);
  return commit(std::move(candidate), EditOutcome::Deleted, std::move(removed));
}

}  // namespace podgate::directory
