#include "bench/podgate-bench/credentials.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace podgate::bench {

std::string expand_pattern(std::string_view pattern, std::uint64_t n) {
  static constexpr std::string_view kPlaceholder = "{n}";
  std::string number = std::to_string(n);
  std::string out;
  out.reserve(pattern.size() + number.size());
  for (;;) {
    std::size_t at = pattern.find(kPlaceholder);
    out.append(pattern.substr(0, at));
    if (at == std::string_view::npos) return out;
    out.append(number);
    pattern.remove_prefix(at + kPlaceholder.size());
  }
}

void Credentials::add(Credential credential, const std::string& where) {
  // None of the three protocols can carry these in a login command, so a
  // run with them would only measure refusals.
  static constexpr std::string_view kForbidden("\r\n\0", 3);
  if (credential.user.empty() || credential.password.empty()) {
    throw std::invalid_argument(where + ": empty user or password");
  }
  if (credential.user.find_first_of(kForbidden) != std::string::npos ||
      credential.password.find_first_of(kForbidden) != std::string::npos) {
    throw std::invalid_argument(where + ": user or password holds CR, LF or NUL");
  }
  list_.push_back(std::move(credential));
}

Credentials Credentials::from_patterns(const std::string& users, const std::string& password,
                                       std::uint64_t count) {
  if (count == 0) throw std::invalid_argument("--user-count must be at least 1");
  Credentials credentials;
  credentials.list_.reserve(count);
  for (std::uint64_t n = 0; n < count; ++n) {
    credentials.add({expand_pattern(users, n), expand_pattern(password, n)},
                    "user " + std::to_string(n));
  }
  return credentials;
}

Credentials Credentials::from_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::invalid_argument("cannot read users file " + path);
  std::ostringstream text;
  text << file.rdbuf();
  return from_text(text.str(), path);
}

Credentials Credentials::from_text(std::string_view text, const std::string& origin) {
  Credentials credentials;
  std::size_t line_number = 0;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    std::string where = origin + ":" + std::to_string(line_number);
    std::size_t space = line.find(' ');
    if (space == std::string_view::npos) {
      throw std::invalid_argument(where + ": expected \"user password\"");
    }
    credentials.add({std::string(line.substr(0, space)), std::string(line.substr(space + 1))},
                    where);
  }
  if (credentials.list_.empty()) throw std::invalid_argument(origin + ": no users");
  return credentials;
}

}  // namespace podgate::bench
