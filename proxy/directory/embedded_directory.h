// The directory as a JSON file read by podgate itself (the default with no
// second process): answers at once from an immutable snapshot. One instance
// serves every worker thread; a reload swaps the snapshot under a mutex (held
// only to copy the pointer), and a lookup holds the snapshot it started with.
// Not std::atomic<std::shared_ptr>: libstdc++ 12 builds it on a lock bit that
// ThreadSanitizer cannot see, so every reload would be reported as a race.
#pragma once

#include <memory>
#include <mutex>
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

  std::shared_ptr<const directory::Directory> snapshot() const {
    std::lock_guard lock(mutex_);
    return snapshot_;
  }

 private:
  std::string path_;
  mutable std::mutex mutex_;
  std::shared_ptr<const directory::Directory> snapshot_;
};

}  // namespace podgate::proxy
