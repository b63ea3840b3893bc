// A password, token or SASL payload on its way from the client's parser to
// the pod: move-only, never copied by accident, and wiped with
// OPENSSL_cleanse when it is destroyed, moved from or cleared, so the bytes
// do not linger in freed memory. It has no conversion to a string and no
// stream operator: a secret reaches a log only through view(), on purpose.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace podgate {

// Overwrites every byte a string owns (its spare capacity included), then
// empties it: for the temporaries a secret passes through.
void wipe(std::string& text);

// Drops the first `count` bytes of a buffer that may hold secrets (a parser's
// input), leaving no copy of them, or of the moved tail, in its capacity.
void erase_front(std::string& text, std::size_t count);

// Appends to such a buffer; when it must grow, the old storage is wiped
// before it is freed.
void append_wiping(std::string& text, std::string_view bytes);

class Secret {
 public:
  Secret() = default;
  // Takes the text and wipes what the source still holds (a short string's
  // bytes stay in it after a move).
  explicit Secret(std::string&& text);
  explicit Secret(std::string_view text);
  ~Secret() { wipe(value_); }

  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  std::string_view view() const { return value_; }
  bool empty() const { return value_.empty(); }
  std::size_t size() const { return value_.size(); }

  // Grows without leaving a copy behind in a freed buffer.
  void append(std::string_view text);
  void clear() { wipe(value_); }

  friend bool operator==(const Secret& a, const Secret& b) { return a.value_ == b.value_; }
  friend bool operator==(const Secret& a, std::string_view b) { return a.value_ == b; }

 private:
  std::string value_;
};

}  // namespace podgate
