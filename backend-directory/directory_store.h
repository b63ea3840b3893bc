// The directory file as podgate-directory serves and edits it: the JSON
// document, the Directory snapshot built from it, and the file it lives in.
//
// Every edit works on a copy of the document, validates the copy by building
// a Directory from it, writes it to the file atomically (temporary file in
// the same folder, fsync, rename over the old one, fsync the folder), and
// only then replaces the document and the snapshot. An edit that fails at
// any step changes nothing, neither in memory nor on disk.
//
// Not thread-safe: one loop thread owns the store. Readers on other threads
// may keep the shared_ptr snapshot they got from directory().
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "backend-directory/directory.h"

namespace podgate::directory {

enum class EditOutcome {
  Created,     // a new entry was stored
  Updated,     // an existing entry was replaced
  Deleted,     // the entry is gone
  NotFound,    // nothing to delete
  Invalid,     // the edit would make the directory invalid; `error` says why
  Conflict,    // refused while other entries depend on it, or the file changed on disk
  WriteFailed  // the file could not be written; nothing changed
};
const char* to_string(EditOutcome outcome);

struct EditResult {
  EditOutcome outcome;
  std::string error;     // for Invalid, Conflict, WriteFailed
  nlohmann::json entry;  // for Created, Updated: the entry as stored
  bool ok() const {
    return outcome == EditOutcome::Created || outcome == EditOutcome::Updated ||
           outcome == EditOutcome::Deleted;
  }
};

struct ReloadResult {
  bool ok = false;
  bool changed = false;  // the file held something else than the document in memory
  std::string error;     // when !ok: why the file was refused (old data kept)
};

class DirectoryStore {
 public:
  explicit DirectoryStore(std::string path);

  // Reads and validates the file; throws DirectoryError with the reason.
  void load();
  // Reads the file again; when it is unreadable or invalid the old document
  // and snapshot stay and the result says why.
  ReloadResult reload();

  const std::string& path() const { return path_; }
  std::shared_ptr<const Directory> directory() const { return directory_; }
  const nlohmann::json& document() const { return document_; }

  // The stored entries, for GET. Users and domains are found
  // case-insensitively.
  std::optional<nlohmann::json> user_entry(std::string_view user) const;
  std::optional<nlohmann::json> domain_entry(std::string_view domain) const;
  std::optional<nlohmann::json> pod_entry(std::string_view pod) const;

  // body: {"pod": "pod-2"} plus the optional policy booleans "imap", "pop3",
  // "smtp" and "basic_auth". The name is stored lower-cased (replacing any
  // spelling of it).
  EditResult put_user(std::string_view user, const nlohmann::json& body);
  EditResult delete_user(std::string_view user);
  EditResult put_domain(std::string_view domain, const nlohmann::json& body);
  EditResult delete_domain(std::string_view domain);
  // body: {"imap": [...], "pop3": [...], "smtp": [...], "smtp_auth": ..., "backend_tls": ...}
  EditResult put_pod(std::string_view pod, const nlohmann::json& body);
  // Refused (Conflict) while users or domains point to the pod.
  EditResult delete_pod(std::string_view pod);

 private:
  // Users and domains: entries of `section_name` ("users", "domains"), each
  // a `kind` ("user", "domain") for messages.
  std::optional<nlohmann::json> assignment_entry(const char* section_name,
                                                 std::string_view name) const;
  EditResult put_assignment(const char* section_name, const char* kind, std::string_view name,
                            const nlohmann::json& body);
  EditResult delete_assignment(const char* section_name, const char* kind, std::string_view name);
  // Validates `candidate`, writes it, and makes it current.
  EditResult commit(nlohmann::json candidate, EditOutcome outcome, nlohmann::json entry);
  nlohmann::json read_file() const;  // throws DirectoryError
  // The model built from a document of the file; throws DirectoryError naming the file.
  std::shared_ptr<const Directory> model_of_file(const nlohmann::json& document) const;
  void write_file(const nlohmann::json& document) const;  // throws DirectoryError

  std::string path_;
  nlohmann::json document_;
  std::shared_ptr<const Directory> directory_;
};

// Writes `text` to `path` atomically and durably (temporary file in the same
// folder, fsync, rename, fsync of the folder); keeps the old file's mode.
// Throws DirectoryError naming the step that failed.
void write_file_atomically(const std::string& path, std::string_view text);

}  // namespace podgate::directory
