// Fuzzes strict base64 and SASL PLAIN by round trips: whatever is accepted
// must rebuild into exactly the input, and whatever is built must be accepted.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/protocol/sasl/sasl.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using podgate::fuzz::check;

using podgate::sasl::base64_decode;
using podgate::sasl::base64_encode;
using podgate::sasl::make_plain;
using podgate::sasl::parse_plain;
using podgate::sasl::PlainCredentials;

void check_base64(std::string_view input) {
  // Strict decoding accepts only the one canonical text of each byte string.
  if (const std::optional<std::string> decoded = base64_decode(input)) {
    check(base64_encode(*decoded) == input);
  }
  check(base64_decode(base64_encode(input)) == std::string(input));
}

void check_plain(std::string_view input) {
  const std::optional<PlainCredentials> plain = parse_plain(input);
  if (!plain) return;
  check(!plain->authcid.empty() && !plain->password.empty());
  check(plain->authzid + '\0' + plain->authcid + '\0' + std::string(plain->password.view()) ==
        input);
  const podgate::Secret message = make_plain(plain->authcid, plain->password);
  const std::optional<PlainCredentials> rebuilt = parse_plain(message.view());
  check(rebuilt && rebuilt->authzid.empty() && rebuilt->authcid == plain->authcid &&
        rebuilt->password == plain->password);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_base64(input);
  check_plain(input);
  return 0;
}
