// IMAP literals as servers announce them: a line ending in "{123}" (or the
// client-side "{123+}") is followed by exactly that many bytes of anything.
// Shared by podgate's relay boundary and podgate-bench's response reader.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace podgate::imap {

// The size announced by a line ending in "{123}" or "{123+}" (CR removed).
// More than 19 digits cannot be real: it counts as no literal.
std::optional<std::uint64_t> announced_literal(std::string_view line);

}  // namespace podgate::imap
