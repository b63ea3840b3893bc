// ASCII case rules for protocol keywords (IMAP atoms, POP3 and SMTP verbs,
// response codes), which are case-insensitive. Deliberately not <cctype>:
// std::toupper on a plain char that holds an 8-bit byte is undefined, and
// the bytes come from clients and pods.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace podgate::protocol {

constexpr char ascii_upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

inline std::string upper_cased(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) c = ascii_upper(c);
  return upper;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_upper(a[i]) != ascii_upper(b[i])) return false;
  }
  return true;
}

constexpr bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// Whether `word` is one of the space-separated words of `words`, without
// regard to case: a capability list, an EHLO AUTH line.
constexpr bool has_word(std::string_view words, std::string_view word) {
  while (!words.empty()) {
    std::size_t space = words.find(' ');
    if (iequals(words.substr(0, space), word)) return true;
    if (space == std::string_view::npos) break;
    words.remove_prefix(space + 1);
  }
  return false;
}

}  // namespace podgate::protocol
