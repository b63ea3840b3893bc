#include "proxy/session/line_backend_login.h"

#include <utility>

namespace podgate::proxy {

LineBackendLogin::LineBackendLogin(const Credentials& credentials, ClientIdentity client,
                                   std::size_t max_line_bytes)
    : BackendLogin(credentials, std::move(client)),
      max_line_bytes_(max_line_bytes),
      lines_(max_line_bytes) {}

std::optional<LoginOutcome> LineBackendLogin::consume(std::string_view bytes) {
  lines_.feed(bytes);
  while (true) {
    protocol::FramedLine line = lines_.next_line();
    switch (line.kind) {
      case protocol::FramedLine::Kind::NeedMore:
        return std::nullopt;
      case protocol::FramedLine::Kind::TooLong:
        return fault("pod sent a line over " + std::to_string(max_line_bytes_ / 1024) + " KB");
      case protocol::FramedLine::Kind::Line:
      case protocol::FramedLine::Kind::SaslResponse:
        if (!spend(line.text.size() + 2)) return overspent();
        if (std::optional<LoginOutcome> verdict = on_line(line.text)) return verdict;
        break;
    }
  }
}

}  // namespace podgate::proxy
