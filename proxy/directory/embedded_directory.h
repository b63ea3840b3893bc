// The directory as a JSON file read by podgate itself (the default with no
// second process): answers at once from an immutable snapshot. One instance
// serves every worker thread; a reload swaps the snapshot atomically, and
// a lookup holds the snapshot it started with.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "backend-directory/directory.h"
#include "proxy/directory/directory_client.h"

namespace podgate::proxy {

class EmbeddedDirectory : public DirectoryClient {
 public:
  // Throws DirectoryError when the file is missing or invalid.
  explicit EmbeddedDirectory(std::string path);

  void lookup(const LookupRequest& request, LookupDone done) override;
  // Keeps the previous snapshot (and logs why) when the new file is invalid.
  void reload() override;
  std::vector<directory::Server> known_servers(directory::Protocol protocol) const override;

  std::shared_ptr<const directory::Directory> snapshot() const { return snapshot_.load(); }

 private:
  std::string path_;
  std::atomic<std::shared_ptr<const directory::Directory>> snapshot_;
};

}  // namespace podgate::proxy
