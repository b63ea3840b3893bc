#include "proxy/directory/embedded_directory.h"

#include <spdlog/spdlog.h>

namespace podgate::proxy {

EmbeddedDirectory::EmbeddedDirectory(std::string path)
    : path_(std::move(path)), snapshot_(directory::Directory::load_file(path_)) {}

void EmbeddedDirectory::lookup(const LookupRequest& request, LookupDone done) {
  LookupResult result;
  result.source = "file";
  result.route = snapshot()->lookup(request.user, request.protocol);
  if (!result.route) result.failure = LoginOutcome::UnknownUser;
  done(std::move(result));
}

void EmbeddedDirectory::reload() {
  try {
    std::shared_ptr<const directory::Directory> fresh = directory::Directory::load_file(path_);
    {
      std::lock_guard lock(mutex_);
      snapshot_ = fresh;
    }
    spdlog::info("directory reloaded: {} users, {} pods", fresh->user_count(), fresh->pod_count());
  } catch (const std::exception& error) {
    spdlog::error("directory reload failed, keeping the previous one: {}", error.what());
  }
}

std::vector<directory::Server> EmbeddedDirectory::known_servers(
    directory::Protocol protocol) const {
  return snapshot()->all_servers(protocol);
}

}  // namespace podgate::proxy
