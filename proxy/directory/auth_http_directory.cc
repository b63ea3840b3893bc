#include "proxy/directory/auth_http_directory.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <memory>

namespace podgate::proxy {

namespace {

std::uint32_t parse_seconds(const std::optional<std::string>& text) {
  if (!text) return 0;
  std::uint32_t seconds = 0;
  auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), seconds);
  if (error != std::errc() || end != text->data() + text->size()) return 0;
  return std::min<std::uint32_t>(seconds, 60);  // a typo must not hang clients for hours
}

// "535 5.7.8" or "454 4.7.0": a three-digit 4xx/5xx code, optionally with
// an enhanced status code. Anything else is ignored (it would go to the
// client verbatim).
bool usable_smtp_error_code(const std::string& code) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (code.size() < 3 || (code[0] != '4' && code[0] != '5') || !digit(code[1]) || !digit(code[2])) {
    return false;
  }
  if (code.size() == 3) return true;
  if (code[3] != ' ') return false;
  std::string_view enhanced(code.data() + 4, code.size() - 4);
  if (enhanced.size() < 5 || enhanced.size() > 9 || enhanced[0] != code[0] || enhanced[1] != '.')
    return false;
  return std::all_of(enhanced.begin(), enhanced.end(),
                     [&](char c) { return digit(c) || c == '.'; });
}

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

LookupResult interpret_auth_http_answer(const core::http::Response& response,
                                        directory::Protocol protocol) {
  LookupResult result;
  result.source = "auth_http";
  auto status = response.header("Auth-Status");
  if (response.status != 200 || !status) {
    result.outcome = LookupOutcome::Unavailable;
    return result;
  }
  if (*status != "OK") {
    result.outcome = LookupOutcome::Refused;
    result.wait_seconds = parse_seconds(response.header("Auth-Wait"));
    if (auto code = response.header("Auth-Error-Code"); code && usable_smtp_error_code(*code)) {
      result.smtp_error_code = *code;
    }
    return result;
  }
  auto server = response.header("Auth-Server");
  auto port = response.header("Auth-Port");
  if (!server || !port) {
    result.outcome = LookupOutcome::Unavailable;
    return result;
  }
  std::string text = core::bracketed_host(*server) + ":" + *port;
  auto address = core::parse_socket_address(text);
  if (!address) {
    result.outcome = LookupOutcome::Unavailable;
    return result;
  }
  directory::Route route;
  route.pod = "auth_http";
  route.servers.push_back(directory::Server{text, *address});
  (void)protocol;
  result.outcome = LookupOutcome::Found;
  result.route = std::move(route);
  // Taken as they are: nginx does not unescape them either.
  if (auto user = response.header("Auth-User"); user && !user->empty()) {
    result.backend_user = *user;
  }
  if (auto pass = response.header("Auth-Pass"); pass && !pass->empty()) {
    result.backend_password = *pass;
  }
  return result;
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

core::metrics::Counter& AuthHttpDirectory::count(LookupOutcome outcome) {
  if (outcome == LookupOutcome::Found) return answered_ok_;
  if (outcome == LookupOutcome::Refused) return answered_refused_;
  return failed_;
}

void AuthHttpDirectory::lookup(const LookupRequest& request, LookupDone done) {
  core::http::Request http;
  http.method = "GET";
  http.target = client_->origin().path.empty() ? "/" : client_->origin().path;
  http.headers = {
      {"Auth-Method", "plain"},
      {"Auth-User", auth_http_escape(request.user)},
      {"Auth-Pass", auth_http_escape(request.password)},
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
      result.source = "auth_http";
      result.outcome = LookupOutcome::Unavailable;
    } else {
      result = interpret_auth_http_answer(answer.response, protocol);
      if (result.outcome == LookupOutcome::Unavailable) {
        spdlog::warn("auth_http {}: unusable answer (HTTP {}, Auth-Status {})",
                     client_->origin().text, answer.response.status,
                     answer.response.header("Auth-Status").value_or("missing"));
      }
    }
    count(result.outcome).add();
    done(std::move(result));
  });
}

}  // namespace podgate::proxy
