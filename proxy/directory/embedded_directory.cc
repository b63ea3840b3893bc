#include "proxy/directory/embedded_directory.h"

#include <spdlog/spdlog.h>

namespace podgate::proxy {

EmbeddedDirectory::EmbeddedDirectory(std::string path)
    : path_(std::move(path)), snapshot_(directory::Directory::load_file(path_)) {}

void EmbeddedDirectory::lookup(const LookupRequest& request, LookupDone done) {
  LookupResult result;
  result.source = "file";
  result.route = snapshot_->lookup(request.user, request.protocol);
  result.outcome = result.route ? LookupOutcome::Found : LookupOutcome::UnknownUser;
  done(std::move(result));
}

void EmbeddedDirectory::reload() {
  try {
    snapshot_ = directory::Directory::load_file(path_);
    spdlog::info("directory reloaded: {} users, {} pods", snapshot_->user_count(),
                 snapshot_->pod_count());
  } catch (const std::exception& error) {
    spdlog::error("directory reload failed, keeping the previous one: {}", error.what());
  }
}

std::vector<directory::Server> EmbeddedDirectory::known_servers(
    directory::Protocol protocol) const {
  return snapshot_->all_servers(protocol);
}

}  // namespace podgate::proxy
