#include "proxy/session/backend_login.h"

#include <utility>

namespace podgate::proxy {

std::optional<LoginOutcome> BackendLogin::feed(std::string_view bytes) {
  if (verdict_) return verdict_;
  verdict_ = consume(bytes);
  return verdict_;
}

bool BackendLogin::spend(std::size_t bytes) {
  received_ += bytes;
  return received_ <= kMaxDialogueBytes;
}

LoginOutcome BackendLogin::overspent() {
  return fault("pod sent more than " + std::to_string(kMaxDialogueBytes / 1024) +
               " KB before its login answer");
}

void BackendLogin::send_credentials(const Secret& text) {
  output_.append(text.view());
  credentials_sent_ = true;
}

LoginOutcome BackendLogin::fault(std::string problem) {
  problem_ = std::move(problem);
  return LoginOutcome::PodFault;
}

}  // namespace podgate::proxy
