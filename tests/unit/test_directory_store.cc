#include <catch2/catch.hpp>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "backend-directory/directory_store.h"

using nlohmann::json;
using podgate::directory::DirectoryError;
using podgate::directory::DirectoryStore;
using podgate::directory::EditOutcome;
using podgate::directory::Protocol;

namespace {

const char* kDirectory = R"({
  "pods": {
    "pod-1": {"imap": ["127.0.0.1:20143"], "pop3": ["127.0.0.1:20110"]},
    "pod-2": {"imap": ["127.0.0.1:20243"], "smtp": ["127.0.0.1:20587"]},
    "pod-empty": {}
  },
  "users": {
    "alice@example.com": {"pod": "pod-1"},
    "Bob@Example.com": {"pod": "pod-2", "pop3": false}
  },
  "domains": {"example.org": {"pod": "pod-2"}}
})";

// A private folder with one directory file in it, removed afterwards.
struct StoreFolder {
  std::string folder;
  std::string path;

  explicit StoreFolder(const std::string& text = kDirectory) {
    char name[] = "/tmp/pg-store-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    folder = name;
    path = folder + "/directory.json";
    write(text);
  }
  ~StoreFolder() { std::filesystem::remove_all(folder); }

  void write(const std::string& text) const {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << text;
  }
  std::string read() const {
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }
};

std::uint64_t inode_of(const std::string& path) {
  struct stat status {};
  REQUIRE(::stat(path.c_str(), &status) == 0);
  return status.st_ino;
}

}  // namespace

TEST_CASE("The store loads the file and serves its entries", "[directory_store]") {
  StoreFolder folder;
  DirectoryStore store(folder.path);
  store.load();
  CHECK(store.directory()->user_count() == 2);
  CHECK(store.directory()->pod_count() == 3);
  CHECK(store.user_entry("alice@example.com") == json{{"pod", "pod-1"}});
  CHECK(store.user_entry("BOB@example.com") == json::parse(R"({"pod": "pod-2", "pop3": false})"));
  CHECK_FALSE(store.user_entry("carol@example.com"));
  CHECK(store.pod_entry("pod-empty") == json::object());
  CHECK_FALSE(store.pod_entry("POD-1"));  // pod names are exact
}

TEST_CASE("The store refuses files it cannot use, with the reason", "[directory_store]") {
  StoreFolder folder("{\"pods\": ");
  DirectoryStore store(folder.path);
  CHECK_THROWS_WITH(store.load(),
                    Catch::Contains("not valid JSON") && Catch::Contains(folder.path));
  folder.write(R"({"users": {"a@b": {"pod": "nowhere"}}})");
  CHECK_THROWS_WITH(store.load(), Catch::Contains("unknown pod \"nowhere\""));
  DirectoryStore missing(folder.folder + "/absent.json");
  CHECK_THROWS_AS(missing.load(), DirectoryError);
  CHECK_THROWS_WITH(missing.load(), Catch::Contains("absent.json"));
}

TEST_CASE("Putting a user stores it lower-cased and persists the file atomically",
          "[directory_store]") {
  StoreFolder folder;
  ::chmod(folder.path.c_str(), 0640);
  auto inode_before = inode_of(folder.path);
  DirectoryStore store(folder.path);
  store.load();
  auto before = store.directory();

  auto created = store.put_user("Carol@Example.com", json{{"pod", "pod-2"}, {"imap", false}});
  CHECK(created.outcome == EditOutcome::Created);
  CHECK(created.ok());
  CHECK(created.entry == json::parse(R"({"pod": "pod-2", "imap": false})"));
  CHECK(store.directory() != before);
  CHECK(store.directory()->lookup("carol@example.com", Protocol::Pop3)->pod == "pod-2");
  CHECK_FALSE(store.directory()->lookup("carol@example.com", Protocol::Imap)->protocol_enabled);
  // The old snapshot is untouched for whoever still holds it.
  CHECK_FALSE(before->lookup("carol@example.com", Protocol::Imap));

  json on_disk = json::parse(folder.read());
  CHECK(on_disk["users"]["carol@example.com"] == created.entry);
  CHECK(on_disk == store.document());
  // Renamed over the old file: a new inode, the old mode, no temporary left.
  CHECK(inode_of(folder.path) != inode_before);
  struct stat status {};
  REQUIRE(::stat(folder.path.c_str(), &status) == 0);
  CHECK((status.st_mode & 07777) == 0640);
  CHECK(folder.entries() == std::vector<std::string>{"directory.json"});

  // Any spelling of an existing user replaces that entry.
  auto moved = store.put_user("bob@EXAMPLE.com", json{{"pod", "pod-1"}});
  CHECK(moved.outcome == EditOutcome::Updated);
  CHECK(store.directory()->lookup("Bob@Example.com", Protocol::Imap)->pod == "pod-1");
  CHECK(store.directory()->lookup("bob@example.com", Protocol::Pop3)->protocol_enabled);
  on_disk = json::parse(folder.read());
  CHECK(on_disk["users"].contains("bob@example.com"));
  CHECK_FALSE(on_disk["users"].contains("Bob@Example.com"));
  CHECK(store.directory()->user_count() == 3);
}

TEST_CASE("Invalid edits change nothing in memory or on disk", "[directory_store]") {
  StoreFolder folder;
  DirectoryStore store(folder.path);
  store.load();
  const std::string original = folder.read();
  const json document = store.document();
  auto snapshot = store.directory();

  auto refused = [&](podgate::directory::EditResult result, const char* reason) {
    INFO(result.error);
    CHECK(result.outcome == EditOutcome::Invalid);
    CHECK_FALSE(result.ok());
    CHECK_THAT(result.error, Catch::Contains(reason));
    CHECK(folder.read() == original);
    CHECK(store.document() == document);
    CHECK(store.directory() == snapshot);
    CHECK(folder.entries() == std::vector<std::string>{"directory.json"});
  };
  refused(store.put_user("alice@example.com", json{{"pod", "pod-9"}}), "unknown pod \"pod-9\"");
  refused(store.put_user("alice@example.com", json{{"pod", 1}}), "\"pod\" must be a string");
  refused(store.put_user("alice@example.com", json{{"pod", "pod-1"}, {"imap", "yes"}}),
          "true or false");
  refused(store.put_user("alice@example.com", json{{"pod", "pod-1"}, {"color", "red"}}),
          "unknown key \"color\"");
  refused(store.put_user("alice@example.com", json::array()), "must be a JSON object");
  refused(store.put_user("alice@example.com", json::object()), "no \"pod\"");
  refused(store.put_user("", json{{"pod", "pod-1"}}), "empty");
  refused(store.put_pod("pod-3", json{{"imap", "127.0.0.1:1"}}), "must be a list");
  refused(store.put_pod("pod-3", json{{"imap", {"localhost:1"}}}), "expected \"ip:port\"");
  refused(store.put_pod("pod-3", json{{"backend_tls", "starttls"}}),
          "backend_tls must be \"none\" or \"implicit\"");
  refused(store.put_pod("pod-3", json{{"smtp_auth", "cram"}}), "smtp_auth");
  refused(store.put_pod("pod-3", json{{"lmtp", json::array()}}), "unknown key \"lmtp\"");
  refused(store.put_pod("pod-3", json(42)), "must be a JSON object");
  refused(store.put_pod("", json::object()), "empty");
}

TEST_CASE("Users and pods are deleted, pods only once nothing points to them",
          "[directory_store]") {
  StoreFolder folder;
  DirectoryStore store(folder.path);
  store.load();

  CHECK(store.delete_user("nobody@example.com").outcome == EditOutcome::NotFound);
  CHECK(store.delete_pod("pod-9").outcome == EditOutcome::NotFound);

  const std::string original = folder.read();
  auto refused = store.delete_pod("pod-2");
  CHECK(refused.outcome == EditOutcome::Conflict);
  CHECK_THAT(refused.error, Catch::Contains("user \"Bob@Example.com\"") &&
                                Catch::Contains("domain \"example.org\""));
  CHECK(folder.read() == original);
  CHECK(store.pod_entry("pod-2"));

  CHECK(store.delete_user("BOB@example.com").outcome == EditOutcome::Deleted);
  CHECK_FALSE(store.user_entry("bob@example.com"));
  CHECK_FALSE(json::parse(folder.read())["users"].contains("Bob@Example.com"));
  auto still_domain = store.delete_pod("pod-2");
  CHECK(still_domain.outcome == EditOutcome::Conflict);
  CHECK_THAT(still_domain.error, Catch::Contains("domain \"example.org\""));

  CHECK(store.delete_pod("pod-empty").outcome == EditOutcome::Deleted);
  CHECK(store.directory()->pod_count() == 2);
  CHECK_FALSE(json::parse(folder.read())["pods"].contains("pod-empty"));

  auto created = store.put_pod("pod-3", json::parse(R"({"imap": ["127.0.0.1:30143"],
      "smtp": ["[::1]:30587"], "smtp_auth": "login", "backend_tls": "none"})"));
  CHECK(created.outcome == EditOutcome::Created);
  CHECK(store.put_pod("pod-3", json{{"imap", {"127.0.0.1:30144"}}}).outcome ==
        EditOutcome::Updated);
  CHECK(store.pod_entry("pod-3") == json::parse(R"({"imap": ["127.0.0.1:30144"]})"));
  CHECK(json::parse(folder.read())["pods"]["pod-3"] == *store.pod_entry("pod-3"));
}

TEST_CASE("An edit that cannot be written changes nothing", "[directory_store]") {
  StoreFolder folder;
  DirectoryStore store(folder.path);
  store.load();
  const json document = store.document();
  std::filesystem::remove_all(folder.folder);  // no folder for the temporary file
  auto result = store.put_user("carol@example.com", json{{"pod", "pod-1"}});
  CHECK(result.outcome == EditOutcome::WriteFailed);
  CHECK_THAT(result.error, Catch::Contains(folder.folder));
  CHECK(store.document() == document);
  CHECK_FALSE(store.directory()->lookup("carol@example.com", Protocol::Imap));
}

TEST_CASE("Reloading keeps the old data when the new file is bad", "[directory_store]") {
  StoreFolder folder;
  DirectoryStore store(folder.path);
  store.load();

  auto unchanged = store.reload();
  CHECK(unchanged.ok);
  CHECK_FALSE(unchanged.changed);

  folder.write(R"({"pods": {"pod-1": {"imap": ["127.0.0.1:1"]}},
                   "users": {"zed@example.com": {"pod": "pod-1"}}})");
  auto changed = store.reload();
  CHECK(changed.ok);
  CHECK(changed.changed);
  CHECK(store.directory()->user_count() == 1);
  CHECK(store.directory()->lookup("zed@example.com", Protocol::Imap));

  for (const char* bad : {"{\"pods\": {", R"({"users": {"a@b": {"pod": "pod-7"}}})", "[]"}) {
    folder.write(bad);
    auto failed = store.reload();
    CHECK_FALSE(failed.ok);
    CHECK_FALSE(failed.error.empty());
    CHECK_THAT(failed.error, Catch::Contains(folder.path));
    CHECK(store.directory()->lookup("zed@example.com", Protocol::Imap));
  }
  std::filesystem::remove(folder.path);
  auto missing = store.reload();
  CHECK_FALSE(missing.ok);
  CHECK_THAT(missing.error, Catch::Contains("cannot open"));
  CHECK(store.directory()->user_count() == 1);
}

TEST_CASE("Atomic writes replace the file whole and keep a new file at 0644", "[directory_store]") {
  StoreFolder folder;
  std::string fresh = folder.folder + "/fresh.json";
  podgate::directory::write_file_atomically(fresh, "{}\n");
  struct stat status {};
  REQUIRE(::stat(fresh.c_str(), &status) == 0);
  CHECK((status.st_mode & 07777) == 0644);
  podgate::directory::write_file_atomically(fresh, "{\"pods\": {}}\n");
  std::ifstream file(fresh);
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  CHECK(text == "{\"pods\": {}}\n");
  CHECK_THROWS_AS(podgate::directory::write_file_atomically("/nonexistent-dir/x.json", "{}"),
                  DirectoryError);
}

TEST_CASE("An edit does not overwrite a hand edit the store has not read yet",
          "[directory_store]") {
  StoreFolder folder;
  DirectoryStore store(folder.path);
  store.load();
  std::string hand_edited = kDirectory;
  hand_edited.replace(hand_edited.find("\"pod\": \"pod-1\""), 14, "\"pod\": \"pod-2\"");
  folder.write(hand_edited);
  auto result = store.put_user("carol@example.com", json{{"pod", "pod-1"}});
  CHECK(result.outcome == EditOutcome::Conflict);
  CHECK_THAT(result.error, Catch::Contains("changed on disk"));
  CHECK(folder.read() == hand_edited);
  // Once the store has read the file, edits go through again.
  REQUIRE(store.reload().ok);
  CHECK(store.put_user("carol@example.com", json{{"pod", "pod-1"}}).outcome ==
        EditOutcome::Created);
  CHECK(folder.read().find("carol@example.com") != std::string::npos);
}

TEST_CASE("Domains are edited like users, and their policy applies at once",
          "[directory_store][policy]") {
  StoreFolder folder;
  DirectoryStore store(folder.path);
  store.load();
  auto created = store.put_domain("Modern.Example", json{{"pod", "pod-1"}, {"basic_auth", false}});
  CHECK(created.outcome == EditOutcome::Created);
  CHECK(store.domain_entry("MODERN.example") == json::parse(R"({"pod": "pod-1",
    "basic_auth": false})"));
  CHECK_FALSE(store.directory()->lookup("anyone@modern.example", Protocol::Imap)->basic_auth);
  CHECK(json::parse(folder.read())["domains"].contains("modern.example"));
  auto refused = store.put_domain("modern.example", json{{"pod", "pod-1"}, {"basic_auth", "no"}});
  CHECK(refused.outcome == EditOutcome::Invalid);
  CHECK(store.delete_domain("modern.EXAMPLE").outcome == EditOutcome::Deleted);
  CHECK(store.delete_domain("modern.example").outcome == EditOutcome::NotFound);
  CHECK_FALSE(store.directory()->lookup("anyone@modern.example", Protocol::Imap));
}
