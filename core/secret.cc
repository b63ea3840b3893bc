#include "core/secret.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <utility>

namespace podgate {

void wipe(std::string& text) {
  // resize() to the capacity makes the whole buffer addressable (and zeroes
  // the spare part); then every byte of it is cleansed.
  text.resize(text.capacity());
  OPENSSL_cleanse(text.data(), text.size());
  text.clear();
}

void erase_front(std::string& text, std::size_t count) {
  count = std::min(count, text.size());
  if (count == 0) return;
  std::size_t old_size = text.size();
  OPENSSL_cleanse(text.data(), count);
  text.erase(0, count);
  // The bytes the erase moved forward are still behind the new end.
  text.resize(old_size, '\0');
  OPENSSL_cleanse(text.data() + (old_size - count), count);
  text.resize(old_size - count);
}

void append_wiping(std::string& text, std::string_view bytes) {
  if (text.size() + bytes.size() > text.capacity()) {
    std::string grown;
    grown.reserve(std::max(text.capacity() * 2, text.size() + bytes.size()));
    grown.append(text);
    wipe(text);
    text = std::move(grown);
  }
  text.append(bytes);
}

Secret::Secret(std::string&& text) : value_(std::move(text)) {
  wipe(text);
}

Secret::Secret(std::string_view text) : value_(text) {}

Secret::Secret(Secret&& other) noexcept : value_(std::move(other.value_)) {
  wipe(other.value_);
}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe(value_);
    value_ = std::move(other.value_);
    wipe(other.value_);
  }
  return *this;
}

void Secret::append(std::string_view text) {
  append_wiping(value_, text);
}

}  // namespace podgate
