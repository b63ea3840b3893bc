// podgate-directory: serves the directory file over HTTP/JSON (lookups for
// podgate, edits for operators), probes the pods' servers, and runs the loop
// until SIGTERM/SIGINT. SIGHUP, or any change of the file, reloads it; an
// invalid file keeps the data already loaded.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdint>
#include <memory>
#include <string>

#include "backend-directory/directory_api.h"
#include "backend-directory/directory_store.h"
#include "backend-directory/pod_health.h"
#include "core/address.h"
#include "core/http/http_server.h"
#include "core/metrics.h"
#include "core/process_signals.h"

namespace {

using namespace podgate;

struct Runtime {
  directory::DirectoryApi* api = nullptr;
  directory::PodHealth* health = nullptr;
  core::http::Server* server = nullptr;
  core::ProcessSignals* signals = nullptr;
  uv_fs_poll_t file_watch;
  bool stopping = false;
};

void log_directory(const char* what, const directory::DirectoryStore& store) {
  spdlog::info("{} {}: {} users, {} pods", what, store.path(), store.directory()->user_count(),
               store.directory()->pod_count());
}

void reload(Runtime& runtime, const directory::DirectoryStore& store, bool forced,
            const char* why) {
  if (runtime.stopping) return;
  directory::ReloadResult result = runtime.api->reload(forced);
  if (!result.ok) {
    spdlog::error("directory reload ({}) failed, keeping the previous data: {}", why, result.error);
  } else if (result.changed) {
    log_directory(forced ? "directory reloaded (SIGHUP)" : "directory reloaded (file changed)",
                  store);
  } else if (forced) {
    spdlog::info("directory file {} unchanged ({})", store.path(), why);
  }
}

void stop(Runtime& runtime) {
  if (runtime.stopping) return;
  runtime.stopping = true;
  spdlog::info("stopping: closing the HTTP server, probes and file watch");
  runtime.server->close();
  runtime.health->stop();
  uv_fs_poll_stop(&runtime.file_watch);
  uv_close(reinterpret_cast<uv_handle_t*>(&runtime.file_watch), nullptr);
  runtime.signals->close();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"podgate-directory: the directory service for podgate (HTTP/JSON)"};
  std::string file;
  std::string listen = "127.0.0.1:9930";
  std::uint32_t ttl_seconds = 30;
  std::uint32_t probe_interval_ms = 5000;
  std::uint32_t probe_timeout_ms = 2000;
  std::uint32_t watch_interval_ms = 1000;
  std::string log_level = "info";
  app.add_option("--file", file, "directory file (JSON), edited in place by the API")->required();
  app.add_option("--listen", listen, "address of the HTTP API (ip:port)")->capture_default_str();
  app.add_option("--ttl", ttl_seconds, "seconds podgate may cache a lookup answer")
      ->capture_default_str();
  app.add_option("--probe-interval-ms", probe_interval_ms,
                 "how often every pod server is probed (0: never; all count as up)")
      ->capture_default_str();
  app.add_option("--probe-timeout-ms", probe_timeout_ms,
                 "how long a probe may take to connect and read the greeting")
      ->capture_default_str()
      ->check(CLI::Range(1u, 600'000u));
  app.add_option("--watch-interval-ms", watch_interval_ms,
                 "how often the file is checked for changes (0: only on SIGHUP)")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("podgate-directory"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(log_level));

  auto listen_address = core::parse_socket_address(listen);
  if (!listen_address) {
    spdlog::error("--listen {}: expected a numeric ip:port", listen);
    return 2;
  }
  directory::DirectoryStore store(file);
  try {
    store.load();
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
    return 2;
  }

  std::signal(SIGPIPE, SIG_IGN);
  uv_loop_t* loop = uv_default_loop();
  core::metrics::Registry metrics;
  directory::PodHealth health(loop, {probe_interval_ms, probe_timeout_ms});
  directory::DirectoryApi api(store, &health, metrics, {ttl_seconds});
  core::http::Server server(
      loop, [&api](const core::http::Request& request) { return api.handle(request); });
  Runtime runtime;
  runtime.api = &api;
  runtime.health = &health;
  runtime.server = &server;

  if (std::string problem = server.listen(*listen_address); !problem.empty()) {
    spdlog::error("{}", problem);
    server.close();
    uv_run(loop, UV_RUN_DEFAULT);
    return 1;
  }

  core::ProcessSignals signals(
      loop, [&runtime] { stop(runtime); },
      [&runtime, &store] { reload(runtime, store, /*forced=*/true, "SIGHUP"); });
  runtime.signals = &signals;
  struct ReloadContext {
    Runtime* runtime;
    directory::DirectoryStore* store;
  } reload_context{&runtime, &store};

  // Polling the path (not the inode) also sees a file renamed over the old one.
  uv_fs_poll_init(loop, &runtime.file_watch);
  runtime.file_watch.data = &reload_context;
  if (watch_interval_ms > 0) {
    int watch = uv_fs_poll_start(
        &runtime.file_watch,
        [](uv_fs_poll_t* handle, int status, const uv_stat_t*, const uv_stat_t*) {
          auto* context = static_cast<ReloadContext*>(handle->data);
          if (status < 0) {
            spdlog::warn("directory file {}: {}; keeping the data loaded", context->store->path(),
                         uv_strerror(status));
            return;
          }
          reload(*context->runtime, *context->store, /*forced=*/false, "file changed");
        },
        file.c_str(), watch_interval_ms);
    if (watch < 0) spdlog::warn("cannot watch {}: {}", file, uv_strerror(watch));
  }

  health.start();
  log_directory("directory loaded from", store);
  spdlog::info("podgate-directory ready on http://{} (ttl {} s, probes {})",
               server.local_address().text(), ttl_seconds,
               probe_interval_ms == 0 ? std::string("off")
                                      : "every " + std::to_string(probe_interval_ms) + " ms");
  uv_run(loop, UV_RUN_DEFAULT);
  if (int rc = uv_loop_close(loop); rc != 0) {
    spdlog::warn("loop closed with handles still open: {}", uv_strerror(rc));
  }
  spdlog::info("stopped");
  return 0;
}
