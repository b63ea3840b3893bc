// Small pieces of IMAP text both sides of podgate's login hop and
// podgate-bench need: the capability list of a response, quoted strings.
#pragma once

#include <string>
#include <string_view>

namespace podgate::imap {

// `[CAPABILITY a b]` response code or `* CAPABILITY a b` data, else empty.
std::string capability_from(std::string_view line);
// Whether the text fits in an IMAP quoted string (no CR, LF or NUL).
bool quotable(std::string_view text);
// The text as an IMAP quoted string; only for quotable() text.
std::string quote(std::string_view text);

}  // namespace podgate::imap
