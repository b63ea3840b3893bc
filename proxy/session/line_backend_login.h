// A pod dialogue in lines (IMAP, POP3): the pod's bytes are framed into
// lines of at most max_line_bytes, each counted against the dialogue's
// budget before on_line() reads it. SMTP's multi-line replies have a reader
// of their own (smtp_backend_login).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/protocol/line_framer.h"
#include "proxy/session/backend_login.h"

namespace podgate::proxy {

class LineBackendLogin : public BackendLogin {
 public:
  LineBackendLogin(const Credentials& credentials, ClientIdentity client,
                   std::size_t max_line_bytes);

  std::string take_leftover() final { return lines_.take_unparsed(); }

 protected:
  // One line from the pod, without its CRLF.
  virtual std::optional<LoginOutcome> on_line(std::string_view line) = 0;

 private:
  std::optional<LoginOutcome> consume(std::string_view bytes) final;

  std::size_t max_line_bytes_;
  protocol::LineFramer lines_;
};

}  // namespace podgate::proxy
