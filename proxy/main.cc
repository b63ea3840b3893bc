// podgate: the authenticating front door. Loads the configuration, the
// directory and the certificate, starts one worker thread per core (each with
// its own loop and listeners) and runs the control loop until SIGTERM/SIGINT
// and the drain of logged-in sessions are over. SIGHUP reloads the
// configuration, the certificate and the directory file (embedded directory).
#include <sched.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <uv.h>

#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "backend-directory/directory.h"
#include "core/http/http_server.h"
#include "core/metrics.h"
#include "core/process_signals.h"
#include "core/timer.h"
#include "core/tls_context.h"
#include "proxy/access_log.h"
#include "proxy/admin_api.h"
#include "proxy/config.h"
#include "proxy/config_reload.h"
#include "proxy/directory/auth_http_directory.h"
#include "proxy/directory/embedded_directory.h"
#include "proxy/directory/http_directory.h"
#include "proxy/graceful_stop.h"
#include "proxy/listener.h"
#include "proxy/login_metrics.h"
#include "proxy/protection/connection_limits.h"
#include "proxy/protection/login_protection.h"
#include "proxy/smtp_extension_probe.h"
#include "proxy/worker.h"
#include "proxy/worker_thread.h"

namespace {

using namespace podgate;

// The control thread runs signals, the admin API and the SMTP probe on its
// own loop; sessions live on the worker threads.
struct Runtime {
  std::string config_path;
  proxy::Config config;  // as loaded at start: the listeners were opened with it
  // Configurations applied by SIGHUP, newest last. Kept for the life of the
  // process (reloads are rare), so nothing that points into one can dangle.
  std::vector<std::unique_ptr<proxy::Config>> reloaded_configs;
  // The TLS contexts new sessions get; an open session's SSL object holds a
  // reference to the context it was made from.
  core::SslCtxPtr server_tls;
  core::SslCtxPtr backend_tls;
  uv_loop_t* loop = nullptr;
  core::metrics::Registry metrics;
  proxy::LoginMetrics login_metrics{metrics};
  proxy::LoginProtection protection{metrics};  // shared by the workers
  // Shared by the workers, so made before them (from the first config).
  std::unique_ptr<proxy::ConnectionLimits> connection_limits;
  // Ends lockouts whose time is up, once a second (each end is logged).
  std::unique_ptr<core::Timer> protection_sweep;
  std::unique_ptr<proxy::EmbeddedDirectory> file_directory;  // shared by the workers
  // Before the workers: their threads tell it when they end.
  std::unique_ptr<proxy::GracefulStop> graceful_stop;
  std::vector<std::unique_ptr<proxy::WorkerThread>> workers;
  std::unique_ptr<proxy::AdminApi> admin_api;
  std::unique_ptr<core::http::Server> admin_server;
  std::unique_ptr<core::ProcessSignals> signals;
  unsigned smtp_probe_generation = 0;
  bool stopping = false;

  void each_worker(const std::function<void(proxy::Worker&)>& visit) {
    for (auto& worker : workers) worker->visit(visit);
  }

  const proxy::Config& current_config() const {
    return reloaded_configs.empty() ? config : *reloaded_configs.back();
  }
};

// SIGTERM/SIGINT. The first stops accepting and lets logged-in sessions
// finish within the drain window (the admin API keeps answering meanwhile);
// a second one closes everything at once.
void stop(Runtime& runtime) {
  if (runtime.stopping) {
    runtime.graceful_stop->hurry();
    return;
  }
  runtime.stopping = true;
  if (runtime.protection_sweep) runtime.protection_sweep->close();
  runtime.graceful_stop->begin(runtime.current_config().timeouts.drain_seconds);
}

// Every worker's loop has ended: the control loop may end too.
void stopped(Runtime& runtime) {
  if (runtime.admin_server) runtime.admin_server->close();
  runtime.signals->close();
  // Closing the handles restores the default actions, which would kill a
  // process that is about to exit 0 anyway (an operator's impatient signal).
  for (int number : {SIGTERM, SIGINT, SIGHUP}) std::signal(number, SIG_IGN);
  runtime.graceful_stop->close();
}

// Asks the pods' SMTP servers what they offer; podgate's EHLO answer
// promises what all of them do. Runs at start and after each reload.
void learn_smtp_extensions(Runtime& runtime) {
  bool serves_smtp =
      std::any_of(runtime.config.listeners.begin(), runtime.config.listeners.end(),
                  [](const auto& l) { return l.protocol == directory::Protocol::Smtp; });
  if (!serves_smtp) return;
  std::vector<directory::Server> servers;
  if (runtime.file_directory) {
    servers = runtime.file_directory->known_servers(directory::Protocol::Smtp);
  }
  if (servers.empty()) {
    spdlog::info("the directory lists no SMTP servers to probe; offering {}",
                 fmt::join(proxy::fallback_extensions(), " "));
    return;
  }
  proxy::SmtpExtensionProbe::run(
      runtime.loop, servers,
      [&runtime, generation = ++runtime.smtp_probe_generation](
          std::vector<std::vector<std::string>> answers) {
        // A reload while this probe ran: the newer probe's answer counts.
        if (generation != runtime.smtp_probe_generation) return;
        if (answers.empty()) {
          spdlog::warn("no pod SMTP server answered EHLO; offering only {}",
                       fmt::join(proxy::fallback_extensions(), " "));
          return;
        }
        std::vector<std::string> common = proxy::common_extensions(answers);
        spdlog::info("SMTP extensions common to {} pod servers: {}", answers.size(),
                     fmt::join(common, " "));
        for (auto& worker : runtime.workers) {
          worker->post([common](proxy::Worker& w) { w.smtp_extensions = common; });
        }
      });
}

void reload_directory(Runtime& runtime) {
  if (runtime.file_directory) {
    runtime.file_directory->reload();
  } else {
    runtime.each_worker([](proxy::Worker& worker) { worker.directory->reload(); });
  }
  learn_smtp_extensions(runtime);
}

// A new configuration, certificate and pod CA for what starts from now on.
// Anything unusable leaves everything as it was; open sessions keep theirs.
void reload_configuration(Runtime& runtime) {
  auto loaded = std::make_unique<proxy::Config>();
  core::SslCtxPtr server_tls;
  core::SslCtxPtr backend_tls;
  try {
    *loaded = proxy::load_config(runtime.config_path);
    server_tls = core::make_server_context(loaded->certificate, loaded->private_key);
    backend_tls = core::make_client_context(loaded->backend_ca);
  } catch (const std::exception& error) {
    spdlog::error("reload failed, still running on the previous configuration and certificate: {}",
                  error.what());
    return;
  }
  for (const std::string& setting :
       proxy::keep_restart_only_settings(runtime.current_config(), *loaded)) {
    spdlog::warn("reload: {} changed in {}; that takes a restart, the running value stays", setting,
                 runtime.config_path);
  }
  const proxy::Config* config = loaded.get();
  runtime.reloaded_configs.push_back(std::move(loaded));
  // visit(), not post(): once it returns, no worker makes a TLS session
  // from the old contexts any more, so they can go (sessions already open
  // hold their own references).
  for (auto& worker : runtime.workers) {
    worker->visit([&](proxy::Worker& w) {
      w.config = config;
      w.server_tls = server_tls.get();
      w.backend_tls = backend_tls.get();
      w.backend_tls_verifies = !config->backend_ca.empty();
    });
  }
  runtime.server_tls = std::move(server_tls);
  runtime.backend_tls = std::move(backend_tls);
  spdlog::info("reloaded configuration and certificate from {}", runtime.config_path);
}

// SIGHUP.
void reload(Runtime& runtime) {
  if (runtime.stopping) {
    spdlog::warn("reload ignored: podgate is stopping");
    return;
  }
  reload_configuration(runtime);
  reload_directory(runtime);
}

// The remote directory clients, one per worker loop; they share one cache.
std::function<std::unique_ptr<proxy::DirectoryClient>(uv_loop_t*)> remote_directory_maker(
    const proxy::DirectoryConfig& config, core::metrics::Registry& metrics) {
  if (config.source == proxy::DirectorySource::AuthHttp) {
    return [&config, &metrics](uv_loop_t* loop) {
      return std::make_unique<proxy::AuthHttpDirectory>(loop, config, metrics);
    };
  }
  auto cache = proxy::HttpDirectory::make_cache(config);
  return [&config, &metrics, cache](uv_loop_t* loop) {
    return std::make_unique<proxy::HttpDirectory>(loop, config, metrics, cache);
  };
}

std::string describe(const proxy::DirectoryConfig& config) {
  switch (config.source) {
    case proxy::DirectorySource::File:
      return "file " + config.file;
    case proxy::DirectorySource::Http:
      return fmt::format("podgate-directory at {}", fmt::join(config.urls, ", "));
    case proxy::DirectorySource::AuthHttp:
      return "auth_http " + config.auth_http;
  }
  return "";
}

// Every session holds two sockets; the usual soft limit of 1024 would cap
// podgate at a few hundred sessions long before memory does.
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    spdlog::warn("cannot raise the open file limit to {}", limit.rlim_max);
  }
}

// Past the open-file limit, accept() fails and libuv drops the connection;
// limits.max_connections pauses accepting cleanly instead, but only if the
// limit leaves room for it (two sockets a session, plus some to spare).
void check_open_file_limit(const proxy::Limits& limits) {
  rlimit limit{};
  rlim_t needed = rlim_t{limits.max_connections} * 2 + 256;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < needed) {
    spdlog::warn(
        "the open file limit ({}) is below what limits.max_connections {} needs ({}); "
        "raise LimitNOFILE or lower limits.max_connections",
        limit.rlim_cur, limits.max_connections, needed);
  }
}

// One worker per core this process may run on (its CPU affinity, which
// container cpusets narrow), at most proxy::kMaxWorkers.
unsigned worker_count(const proxy::Config& config) {
  if (config.workers > 0) return config.workers;
  cpu_set_t cpus;
  unsigned cores = sched_getaffinity(0, sizeof cpus, &cpus) == 0
                       ? static_cast<unsigned>(CPU_COUNT(&cpus))
                       : std::thread::hardware_concurrency();
  return std::clamp(cores, 1u, proxy::kMaxWorkers);
}

// Makes the workers and binds every worker's listeners; a message on failure.
std::string open_workers(Runtime& runtime, SSL_CTX* server_tls, SSL_CTX* backend_tls,
                         proxy::AccessLog& access_log) {
  proxy::WorkerThread::Shared shared;
  shared.config = &runtime.config;
  shared.server_tls = server_tls;
  shared.backend_tls = backend_tls;
  shared.backend_tls_verifies = !runtime.config.backend_ca.empty();
  shared.metrics = &runtime.metrics;
  shared.login_metrics = &runtime.login_metrics;
  shared.protection = &runtime.protection;
  runtime.connection_limits =
      std::make_unique<proxy::ConnectionLimits>(runtime.config.limits, runtime.metrics);
  shared.connection_limits = runtime.connection_limits.get();
  shared.access_log = &access_log;
  shared.shared_directory = runtime.file_directory.get();
  if (!runtime.file_directory) {
    shared.make_directory = remote_directory_maker(runtime.config.directory, runtime.metrics);
  }
  shared.loop_ended = [stop = runtime.graceful_stop.get()] { stop->worker_loop_ended(); };
  for (const auto& listener : runtime.config.listeners) {
    if (std::string problem = proxy::Listener::check_address_free(listener); !problem.empty()) {
      return problem;
    }
  }
  for (unsigned index = 0; index < worker_count(runtime.config); ++index) {
    runtime.workers.push_back(std::make_unique<proxy::WorkerThread>(index, shared));
    if (std::string problem = runtime.workers.back()->open_listeners(); !problem.empty()) {
      return problem;
    }
  }
  return "";
}

void start_protection_sweep(Runtime& runtime) {
  constexpr std::uint64_t kSweepMs = 1000;
  runtime.protection_sweep = std::make_unique<core::Timer>(
      runtime.loop,
      [&runtime] {
        runtime.protection.sweep(runtime.config.protection);
        runtime.protection_sweep->start(kSweepMs);
      },
      [] {});
  runtime.protection_sweep->start(kSweepMs);
}

std::string open_admin_api(Runtime& runtime) {
  runtime.admin_api = std::make_unique<proxy::AdminApi>(
      runtime.metrics,
      [&runtime](const std::function<void(proxy::Worker&)>& visit) { runtime.each_worker(visit); },
      [&runtime] { return runtime.stopping; });
  runtime.admin_server = std::make_unique<core::http::Server>(
      runtime.loop, [api = runtime.admin_api.get()](const core::http::Request& request) {
        return api->handle(request);
      });
  return runtime.admin_server->listen(runtime.config.admin_address);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"podgate: authenticating front door for IMAP, POP3 and SMTP submission"};
  std::string config_path;
  bool check_only = false;
  app.add_option("-c,--config", config_path, "configuration file (JSON)")->required();
  app.add_flag("--check-config", check_only, "validate the configuration and exit");
  CLI11_PARSE(app, argc, argv);

  // Diagnostics go to standard error; standard output may carry the access log.
  spdlog::set_default_logger(spdlog::stderr_color_mt("podgate"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  Runtime runtime;
  runtime.config_path = config_path;
  core::SslCtxPtr& server_tls = runtime.server_tls;
  core::SslCtxPtr& backend_tls = runtime.backend_tls;
  std::unique_ptr<proxy::AccessLog> access_log;
  try {
    runtime.config = proxy::load_config(config_path);
    auto& file_directory = runtime.file_directory;
    if (runtime.config.directory.source == proxy::DirectorySource::File) {
      file_directory = std::make_unique<proxy::EmbeddedDirectory>(runtime.config.directory.file);
    }
    server_tls = core::make_server_context(runtime.config.certificate, runtime.config.private_key);
    backend_tls = core::make_client_context(runtime.config.backend_ca);
    if (check_only) {
      if (file_directory) {
        std::printf("configuration OK: %zu listeners, %zu users, %zu pods\n",
                    runtime.config.listeners.size(), file_directory->snapshot()->user_count(),
                    file_directory->snapshot()->pod_count());
      } else {
        std::printf("configuration OK: %zu listeners, directory: %s\n",
                    runtime.config.listeners.size(), describe(runtime.config.directory).c_str());
      }
      return 0;
    }
    access_log = std::make_unique<proxy::AccessLog>(runtime.config.access_log);
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
    return 2;
  }

  std::signal(SIGPIPE, SIG_IGN);
  raise_open_file_limit();
  check_open_file_limit(runtime.config.limits);
  runtime.loop = uv_default_loop();
  runtime.graceful_stop = std::make_unique<proxy::GracefulStop>(runtime.loop, runtime.workers,
                                                                [&runtime] { stopped(runtime); });
  if (std::string problem = open_workers(runtime, server_tls.get(), backend_tls.get(), *access_log);
      !problem.empty()) {
    spdlog::error("{}", problem);
    return 1;
  }
  for (const auto& listener_config : runtime.config.listeners) {
    spdlog::info("listening on {} ({}, {})", listener_config.listen,
                 directory::to_string(listener_config.protocol),
                 listener_config.tls == proxy::ListenerTls::Implicit ? "implicit TLS" : "STARTTLS");
  }
  runtime.signals = std::make_unique<core::ProcessSignals>(
      runtime.loop, [&runtime] { stop(runtime); }, [&runtime] { reload(runtime); });
  if (!runtime.config.admin_listen.empty()) {
    if (std::string problem = open_admin_api(runtime); !problem.empty()) {
      spdlog::error("admin API: {}", problem);
      return 1;
    }
    spdlog::info("admin API on {}", runtime.config.admin_listen);
  }
  for (auto& worker : runtime.workers) worker->start();
  learn_smtp_extensions(runtime);
  spdlog::info("podgate ready; directory: {}; {} worker threads",
               describe(runtime.config.directory), runtime.workers.size());
  start_protection_sweep(runtime);
  uv_run(runtime.loop, UV_RUN_DEFAULT);
  for (auto& worker : runtime.workers) worker->join();
  uv_loop_close(runtime.loop);
  spdlog::info("stopped");
  return 0;
}
