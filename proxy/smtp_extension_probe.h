// Learns what the pods' SMTP servers offer (their EHLO keywords), so that
// podgate's own EHLO answer, given before anyone has logged in and so before
// the pod is known, promises only what every pod will honour after login.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend-directory/directory.h"
#include "core/stream.h"
#include "core/timer.h"
#include "proxy/protocol/smtp/smtp_reply_reader.h"

namespace podgate::proxy {

// The keywords podgate passes on, when every pod that answered offers them;
// SIZE takes the smallest limit. Pure, for tests.
std::vector<std::string> common_extensions(const std::vector<std::vector<std::string>>& per_server);

// Until a probe answers: what podgate itself guarantees before login.
std::vector<std::string> fallback_extensions();

class SmtpExtensionProbe final : public core::StreamHandler {
 public:
  using Done = std::function<void(std::vector<std::vector<std::string>> answers)>;

  // Asks every server at once; `done` runs once, with the EHLO keywords of
  // each server that answered in time. The probe frees itself afterwards.
  static void run(uv_loop_t* loop, const std::vector<directory::Server>& servers, Done done);

 private:
  struct Conversation {
    std::unique_ptr<core::Stream> stream;
    smtp::ReplyReader replies;
    bool greeted = false;
    bool finished = false;
  };

  SmtpExtensionProbe(uv_loop_t* loop, Done done);
  void on_stream_data(core::Stream& stream, std::string_view bytes) override;
  void on_stream_end(core::Stream& stream, core::StreamEnd why) override;
  void on_stream_closed(core::Stream& stream) override;
  void on_stream_connected(core::Stream& stream, int status) override;
  Conversation* find(core::Stream& stream);
  void finish_one(Conversation& conversation);
  void finish_all();
  void maybe_free();

  Done done_;
  std::vector<Conversation> conversations_;
  std::vector<std::vector<std::string>> answers_;
  core::Timer timer_;
  std::size_t open_streams_ = 0;
  bool reported_ = false;
  bool timer_closed_ = false;
};

}  // namespace podgate::proxy
