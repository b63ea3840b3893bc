#include "proxy/directory/auth_http_directory.h"

#include <spdlog/spdlog.h>

#include <memory>

namespace podgate::proxy {

namespace {

core::metrics::Counter& requests(core::metrics::Registry& metrics, const char* outcome) {
  return metrics.counter("podgate_auth_http_requests_total", "auth_http requests by answer",
                         core::metrics::label("outcome", outcome));
}

}  // namespace

std::string auth_http_escape(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (c == '%' || c == ' ' || c < 0x21 || c > 0x7e) {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

AuthHttpDirectory::AuthHttpDirectory(uv_loop_t* loop, const DirectoryConfig& config,
                                     core::metrics::Registry& metrics)
    : answered_ok_(requests(metrics, "ok")),
      answered_refused_(requests(metrics, "refused")),
      failed_(requests(metrics, "unavailable")) {
  core::http::ClientOptions options;
  options.max_connections = config.max_connections;
  options.max_idle_connections = config.max_connections;
  options.request_timeout_ms = config.timeout_ms;
  client_ =
      std::make_unique<core::http::Client>(loop, core::http::parse_url(config.auth_http), options);
}

AuthHttpDirectory::~AuthHttpDirectory() {
  close();
}

void AuthHttpDirectory::close() {
  if (closed_) return;
  closed_ = true;
  client_->close();
}

core::metrics::Counter& AuthHttpDirectory::count(const LookupResult& result) {
  if (result.route) return answered_ok_;
  if (result.failure == LoginOutcome::DirectoryRefused) return answered_refused_;
  return failed_;
}

void AuthHttpDirectory::lookup(const LookupRequest& request, LookupDone done) {
  core::http::Request http;
  http.method = "GET";
  http.target = client_->origin().path.empty() ? "/" : client_->origin().path;
  http.headers = {
      {"Auth-Method", "plain"},
      {"Auth-User", auth_http_escape(request.user)},
      {"Auth-Pass", request.password ? auth_http_escape(request.password->view()) : ""},
      {"Auth-Protocol", directory::to_string(request.protocol)},
      {"Auth-Login-Attempt", std::to_string(request.attempt)},
      {"Client-IP", request.client_ip},
  };
  if (request.client_tls) http.headers.emplace_back("Auth-SSL", "on");
  client_->request(std::move(http), [this, protocol = request.protocol,
                                     done = std::move(done)](core::http::ClientResult answer) {
    if (closed_) return;
    LookupResult result;
    if (!answer.ok) {
      spdlog::warn("auth_http {}: {}", client_->origin().text, answer.error);
      result = LookupResult::without_route(LoginOutcome::DirectoryUnavailable, "auth_http");
    } else {
      result = interpret_auth_http_answer(answer.response, protocol);
      if (!result.route && result.failure == LoginOutcome::DirectoryUnavailable) {
        spdlog::warn("auth_http {}: unusable answer (HTTP {}, Auth-Status {})",
                     client_->origin().text, answer.response.status,
                     answer.response.header("Auth-Status").value_or("missing"));
      }
    }
    count(result).add();
    done(std::move(result));
  });
}

}  // namespace podgate::proxy
