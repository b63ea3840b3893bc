#include "proxy/access_log.h"

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace podgate::proxy {

namespace {

std::string utc_timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900,
                parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                static_cast<int>(millis));
  return text;
}

nlohmann::json optional_text(const std::string& text) {
  return text.empty() ? nlohmann::json() : nlohmann::json(text);
}

nlohmann::json optional_number(const std::optional<double>& value) {
  // Microsecond precision is plenty and keeps the lines short.
  return value ? nlohmann::json(static_cast<double>(static_cast<long long>(*value * 1000)) / 1000)
               : nlohmann::json();
}

}  // namespace

std::string to_json_line(const SessionRecord& record) {
  const LoginPhases& phases = record.phases;
  nlohmann::json line = {
      {"ts", utc_timestamp()},
      {"session", record.session},
      {"protocol", record.protocol},
      {"listener", record.listener},
      {"client", record.client},
      {"user", optional_text(record.user)},
      {"pod", optional_text(record.pod)},
      {"directory", optional_text(record.directory)},
      {"backend", optional_text(record.backend)},
      {"tls", record.tls},
      {"backend_tls", record.backend_tls},
      {"result", record.outcome ? result_name(*record.outcome) : "no_login"},
      {"outcome", record.outcome ? nlohmann::json(to_string(*record.outcome)) : nlohmann::json()},
      {"close_reason",
       record.close_reason ? nlohmann::json(to_string(*record.close_reason)) : nlohmann::json()},
      {"lockout", optional_text(record.lockout)},
      {"bytes_from_client", record.bytes_from_client},
      {"bytes_to_client", record.bytes_to_client},
      {"phases_ms",
       {{"tls", optional_number(phases.tls)},
        {"credentials", optional_number(phases.credentials)},
        {"directory", optional_number(phases.directory)},
        {"backend_connect", optional_number(phases.backend_connect)},
        {"backend_auth", optional_number(phases.backend_auth)},
        {"total", optional_number(phases.total)}}},
      {"duration_ms", optional_number(record.duration_ms)},
  };
  // Replace invalid UTF-8 (a user name is client input) instead of throwing.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

AccessLog::AccessLog(const std::string& path)
    : file_(path == "-" ? stdout : std::fopen(path.c_str(), "a")), owned_(path != "-") {
  if (file_ == nullptr) throw std::runtime_error("cannot open access log " + path);
}

AccessLog::~AccessLog() {
  if (owned_) std::fclose(file_);
}

void AccessLog::write(const SessionRecord& record) {
  std::string line = to_json_line(record);
  // One fwrite per line: stdio locks the stream, so lines from several
  // threads never interleave.
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

}  // namespace podgate::proxy
