// The users a run logs in as: from patterns ("user{n}@example.com", users
// 0..K-1) or from a file of "user password" lines. Login i uses entry
// i mod K, so every user gets the same share of the load. Built once at
// start; errors throw std::invalid_argument with a reason for the user.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace podgate::bench {

struct Credential {
  std::string user;
  std::string password;
};

// Every "{n}" in `pattern` replaced by `n`.
std::string expand_pattern(std::string_view pattern, std::uint64_t n);

class Credentials {
 public:
  static Credentials from_patterns(const std::string& users, const std::string& password,
                                   std::uint64_t count);
  static Credentials from_file(const std::string& path);
  // The file's contents: "user password" per line (the password is the rest of
  // the line, spaces included); empty lines and lines starting with '#' skipped.
  static Credentials from_text(std::string_view text, const std::string& origin);

  const Credential& for_login(std::uint64_t login) const { return list_[login % list_.size()]; }
  std::size_t size() const { return list_.size(); }

 private:
  void add(Credential credential, const std::string& where);

  std::vector<Credential> list_;
};

}  // namespace podgate::bench
