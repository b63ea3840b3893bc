// podgate: the authenticating front door. Loads the configuration, the
// directory and the certificate, opens the listeners and runs the loop until
// SIGTERM/SIGINT. SIGHUP reloads the directory file (embedded directory).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <memory>
#include <vector>

#include "backend-directory/directory.h"
#include "core/http/http_server.h"
#include "core/metrics.h"
#include "core/process_signals.h"
#include "core/tls_context.h"
#include "proxy/access_log.h"
#include "proxy/admin_api.h"
#include "proxy/config.h"
#include "proxy/directory/auth_http_directory.h"
#include "proxy/directory/embedded_directory.h"
#include "proxy/directory/http_directory.h"
#include "proxy/listener.h"
#include "proxy/smtp_extension_probe.h"
#include "proxy/worker.h"

namespace {

using namespace podgate;

struct Runtime {
  proxy::Config config;
  proxy::Worker worker;
  core::metrics::Registry metrics;
  std::unique_ptr<proxy::DirectoryClient> directory;
  std::unique_ptr<proxy::AdminApi> admin_api;
  std::unique_ptr<core::http::Server> admin_server;
  std::vector<std::unique_ptr<proxy::Listener>> listeners;
  std::unique_ptr<core::ProcessSignals> signals;
};

void stop(Runtime& runtime) {
  if (runtime.worker.stopping) return;
  runtime.worker.stopping = true;
  spdlog::info("stopping: closing listeners and sessions");
  for (auto& listener : runtime.listeners) listener->close();
  // shut_down() may free the session: iterate over a copy.
  auto sessions = runtime.worker.sessions;
  for (auto* session : sessions) session->shut_down();
  runtime.directory->close();
  if (runtime.admin_server) runtime.admin_server->close();
  runtime.signals->close();
}

// Asks the pods' SMTP servers what they offer; podgate's EHLO answer
// promises what all of them do. Runs at start and after each reload.
void learn_smtp_extensions(Runtime& runtime) {
  bool serves_smtp =
      std::any_of(runtime.config.listeners.begin(), runtime.config.listeners.end(),
                  [](const auto& l) { return l.protocol == directory::Protocol::Smtp; });
  if (!serves_smtp) return;
  auto servers = runtime.directory->known_servers(directory::Protocol::Smtp);
  if (servers.empty()) {
    spdlog::info("the directory lists no SMTP servers to probe; offering {}",
                 fmt::join(runtime.worker.smtp_extensions, " "));
    return;
  }
  proxy::SmtpExtensionProbe::run(
      runtime.worker.loop, servers,
      [&worker = runtime.worker, generation = ++runtime.worker.smtp_probe_generation](
          std::vector<std::vector<std::string>> answers) {
        // A reload while this probe ran: the newer probe's answer counts.
        if (generation != worker.smtp_probe_generation) return;
        if (answers.empty()) {
          spdlog::warn("no pod SMTP server answered EHLO; offering only {}",
                       fmt::join(worker.smtp_extensions, " "));
          return;
        }
        worker.smtp_extensions = proxy::common_extensions(answers);
        spdlog::info("SMTP extensions common to {} pod servers: {}", answers.size(),
                     fmt::join(worker.smtp_extensions, " "));
      });
}

void reload_directory(Runtime& runtime) {
  runtime.directory->reload();
  learn_smtp_extensions(runtime);
}

std::unique_ptr<proxy::DirectoryClient> make_directory(const proxy::DirectoryConfig& config,
                                                       uv_loop_t* loop,
                                                       core::metrics::Registry& metrics) {
  switch (config.source) {
    case proxy::DirectorySource::File:
      return std::make_unique<proxy::EmbeddedDirectory>(config.file);
    case proxy::DirectorySource::Http:
      return std::make_unique<proxy::HttpDirectory>(loop, config, metrics);
    case proxy::DirectorySource::AuthHttp:
      return std::make_unique<proxy::AuthHttpDirectory>(loop, config, metrics);
  }
  return nullptr;
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

void register_metrics(Runtime& runtime) {
  runtime.metrics.gauge_callback(
      "podgate_sessions_active", "Client connections open now", "",
      [&worker = runtime.worker] { return static_cast<double>(worker.sessions.size()); });
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
  core::SslCtxPtr server_tls;
  core::SslCtxPtr backend_tls;
  std::unique_ptr<proxy::AccessLog> access_log;
  try {
    runtime.config = proxy::load_config(config_path);
    std::unique_ptr<proxy::EmbeddedDirectory> file_directory;
    if (runtime.config.directory.source == proxy::DirectorySource::File) {
      file_directory = std::make_unique<proxy::EmbeddedDirectory>(runtime.config.directory.file);
    }
    server_tls = core::make_server_context(runtime.config.certificate, runtime.config.private_key);
    backend_tls = core::make_client_context(runtime.config.backend_ca);
    if (check_only) {
      if (file_directory) {
        std::printf("configuration OK: %zu listeners, %zu users, %zu pods\n",
                    runtime.config.listeners.size(), file_directory->snapshot().user_count(),
                    file_directory->snapshot().pod_count());
      } else {
        std::printf("configuration OK: %zu listeners, directory: %s\n",
                    runtime.config.listeners.size(), describe(runtime.config.directory).c_str());
      }
      return 0;
    }
    if (file_directory) runtime.directory = std::move(file_directory);
    access_log = std::make_unique<proxy::AccessLog>(runtime.config.access_log);
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
    return 2;
  }

  std::signal(SIGPIPE, SIG_IGN);
  uv_loop_t* loop = uv_default_loop();
  runtime.worker.loop = loop;
  runtime.worker.config = &runtime.config;
  runtime.worker.server_tls = server_tls.get();
  runtime.worker.backend_tls = backend_tls.get();
  runtime.worker.backend_tls_verifies = !runtime.config.backend_ca.empty();
  runtime.worker.access_log = access_log.get();
  runtime.worker.metrics = &runtime.metrics;
  if (!runtime.directory) {
    runtime.directory = make_directory(runtime.config.directory, loop, runtime.metrics);
  }
  runtime.worker.directory = runtime.directory.get();
  register_metrics(runtime);

  for (const auto& listener_config : runtime.config.listeners) {
    auto listener = std::make_unique<proxy::Listener>(runtime.worker, listener_config);
    if (std::string problem = listener->start(); !problem.empty()) {
      spdlog::error("{}", problem);
      return 1;
    }
    spdlog::info("listening on {} ({}, {})", listener_config.listen,
                 directory::to_string(listener_config.protocol),
                 listener_config.tls == proxy::ListenerTls::Implicit ? "implicit TLS" : "STARTTLS");
    runtime.listeners.push_back(std::move(listener));
  }

  runtime.signals = std::make_unique<core::ProcessSignals>(
      loop, [&runtime] { stop(runtime); }, [&runtime] { reload_directory(runtime); });

  if (!runtime.config.admin_listen.empty()) {
    runtime.admin_api = std::make_unique<proxy::AdminApi>(runtime.worker);
    runtime.admin_server = std::make_unique<core::http::Server>(
        loop, [api = runtime.admin_api.get()](const core::http::Request& request) {
          return api->handle(request);
        });
    if (std::string problem = runtime.admin_server->listen(runtime.config.admin_address);
        !problem.empty()) {
      spdlog::error("admin API: {}", problem);
      return 1;
    }
    spdlog::info("admin API on {}", runtime.config.admin_listen);
  }
  learn_smtp_extensions(runtime);
  spdlog::info("podgate ready; directory: {}", describe(runtime.config.directory));
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  spdlog::info("stopped");
  return 0;
}
