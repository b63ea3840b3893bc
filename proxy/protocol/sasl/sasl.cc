#include "proxy/protocol/sasl/sasl.h"

#include <algorithm>
#include <cstdint>
#include <utility>

namespace podgate::sasl {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kPad = '=';

// The 6-bit value of a base64 digit, or -1 for any other byte.
int digit_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Decodes four base64 characters into one to three bytes. Padding may only
// close the last group, and the bits it leaves unused must be zero
// (RFC 4648 section 3.5), so every byte string has exactly one encoding.
bool decode_group(std::string_view group, bool last_group, std::string& out) {
  std::size_t padding = 0;
  while (padding < 2 && group[3 - padding] == kPad) ++padding;
  if (padding > 0 && !last_group) return false;
  std::uint32_t bits = 0;
  for (std::size_t i = 0; i < 4 - padding; ++i) {
    const int value = digit_value(group[i]);
    if (value < 0) return false;
    bits = bits << 6 | static_cast<std::uint32_t>(value);
  }
  bits <<= 6 * padding;
  const std::uint32_t unused_bits = (std::uint32_t{1} << (8 * padding)) - 1;
  if ((bits & unused_bits) != 0) return false;
  for (std::size_t i = 0; i < 3 - padding; ++i) {
    out.push_back(static_cast<char>((bits >> (16 - 8 * i)) & 0xff));
  }
  return true;
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string bytes;
  bytes.reserve(text.size() / 4 * 3);
  for (std::size_t pos = 0; pos < text.size(); pos += 4) {
    const bool last_group = pos + 4 == text.size();
    if (!decode_group(text.substr(pos, 4), last_group, bytes)) {
      wipe(bytes);  // a partly decoded password
      return std::nullopt;
    }
  }
  return bytes;
}

std::string base64_encode(std::string_view bytes) {
  std::string text;
  // Exactly the room it needs: no reallocation leaves a copy behind.
  text.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t pos = 0; pos < bytes.size(); pos += 3) {
    const std::size_t count = std::min<std::size_t>(3, bytes.size() - pos);
    std::uint32_t bits = 0;
    for (std::size_t i = 0; i < 3; ++i) {
      const auto byte = i < count ? static_cast<unsigned char>(bytes[pos + i]) : 0u;
      bits = bits << 8 | byte;
    }
    for (std::size_t i = 0; i < 4; ++i) {
      text.push_back(i <= count ? kAlphabet[(bits >> (18 - 6 * i)) & 0x3f] : kPad);
    }
  }
  return text;
}

Secret base64_encode(const Secret& bytes) {
  std::string text = base64_encode(bytes.view());
  return Secret(std::move(text));
}

std::optional<PlainCredentials> parse_plain(std::string_view decoded) {
  const std::size_t first_nul = decoded.find('\0');
  if (first_nul == std::string_view::npos) return std::nullopt;
  const std::size_t second_nul = decoded.find('\0', first_nul + 1);
  if (second_nul == std::string_view::npos) return std::nullopt;
  std::string_view authcid = decoded.substr(first_nul + 1, second_nul - first_nul - 1);
  std::string_view password = decoded.substr(second_nul + 1);
  // The first two fields cannot hold a NUL: it would have ended them.
  if (authcid.empty() || password.empty() || password.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  return PlainCredentials{std::string(decoded.substr(0, first_nul)), std::string(authcid),
                          Secret(password)};
}

std::string make_plain(std::string_view authcid, std::string_view password) {
  std::string message;
  message.reserve(authcid.size() + password.size() + 2);
  message.push_back('\0');
  message.append(authcid);
  message.push_back('\0');
  message.append(password);
  return message;
}

Secret make_plain(std::string_view authcid, const Secret& password) {
  Secret message(std::string_view("\0", 1));
  message.append(authcid);
  message.append(std::string_view("\0", 1));
  message.append(password.view());
  return message;
}

}  // namespace podgate::sasl
