#include "proxy/protocol/sasl/mechanisms.h"

#include <algorithm>
#include <array>

#include "proxy/protocol/ascii.h"

namespace podgate::sasl {

namespace {

struct Row {
  Mechanism mechanism;
  std::string_view name;
  bool carries_password;
};

constexpr std::array kRegistry{
    Row{Mechanism::Plain, "PLAIN", true},
    Row{Mechanism::Login, "LOGIN", true},
};

const Row& row_of(Mechanism mechanism) {
  for (const Row& row : kRegistry) {
    if (row.mechanism == mechanism) return row;
  }
  return kRegistry.front();  // not reached: every enumerator has its row
}

}  // namespace

std::string_view to_string(Mechanism mechanism) {
  return row_of(mechanism).name;
}

bool carries_password(Mechanism mechanism) {
  return row_of(mechanism).carries_password;
}

std::optional<Mechanism> mechanism_named(std::string_view name) {
  for (const Row& row : kRegistry) {
    if (protocol::iequals(row.name, name)) return row.mechanism;
  }
  return std::nullopt;
}

const std::vector<Mechanism>& all_mechanisms() {
  static const std::vector<Mechanism> all = [] {
    std::vector<Mechanism> mechanisms;
    for (const Row& row : kRegistry) mechanisms.push_back(row.mechanism);
    return mechanisms;
  }();
  return all;
}

const std::vector<Mechanism>& default_mechanisms() {
  static const std::vector<Mechanism> defaults{Mechanism::Plain, Mechanism::Login};
  return defaults;
}

std::string mechanism_list(const std::vector<Mechanism>& offered, std::string_view prefix,
                           std::string_view separator) {
  std::string list;
  for (Mechanism mechanism : offered) {
    if (!list.empty()) list += separator;
    list += prefix;
    list += to_string(mechanism);
  }
  return list;
}

}  // namespace podgate::sasl
