#include "proxy/smtp_extension_probe.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <set>

namespace podgate::proxy {

namespace {

constexpr std::uint64_t kProbeTimeoutMs = 5000;

// What a front door may promise on a pod's behalf. AUTH, STARTTLS and XCLIENT
// are podgate's own business and never copied; CHUNKING (and BINARYMIME,
// which needs it) is left out because a BDAT refused before AUTH would leave
// its chunk to be read as commands.
const std::set<std::string> kPassedOn = {"SIZE",     "8BITMIME", "PIPELINING",
                                         "SMTPUTF8", "DSN",      "ENHANCEDSTATUSCODES"};

std::string keyword_of(const std::string& extension) {
  return extension.substr(0, extension.find(' '));
}

}  // namespace

std::vector<std::string> fallback_extensions() {
  return {"PIPELINING", "ENHANCEDSTATUSCODES"};
}

std::vector<std::string> common_extensions(
    const std::vector<std::vector<std::string>>& per_server) {
  if (per_server.empty()) return fallback_extensions();
  std::vector<std::string> common;
  for (const std::string& keyword : kPassedOn) {
    bool everywhere = true;
    unsigned long long smallest_size = 0;  // 0: no limit announced
    bool any_size_limit = false;
    for (const auto& extensions : per_server) {
      auto found = std::find_if(extensions.begin(), extensions.end(),
                                [&](const std::string& e) { return keyword_of(e) == keyword; });
      if (found == extensions.end()) {
        everywhere = false;
        break;
      }
      if (keyword == "SIZE" && found->size() > 5) {
        unsigned long long limit = 0;
        std::from_chars(found->data() + 5, found->data() + found->size(), limit);
        if (limit > 0 && (!any_size_limit || limit < smallest_size)) smallest_size = limit;
        any_size_limit = any_size_limit || limit > 0;
      }
    }
    if (!everywhere) continue;
    common.push_back(keyword == "SIZE" && any_size_limit ? "SIZE " + std::to_string(smallest_size)
                                                         : keyword);
  }
  return common;
}

void SmtpExtensionProbe::run(uv_loop_t* loop, const std::vector<directory::Server>& servers,
                             Done done) {
  auto* probe = new SmtpExtensionProbe(loop, std::move(done));
  probe->conversations_.resize(servers.size());
  for (std::size_t i = 0; i < servers.size(); ++i) {
    Conversation& conversation = probe->conversations_[i];
    conversation.stream = std::make_unique<core::Stream>(loop, *probe);
    ++probe->open_streams_;
    if (conversation.stream->connect(servers[i].address) != 0) probe->finish_one(conversation);
  }
  probe->timer_.start(kProbeTimeoutMs);
  probe->maybe_free();
}

SmtpExtensionProbe::SmtpExtensionProbe(uv_loop_t* loop, Done done)
    : done_(std::move(done)),
      timer_(
          loop, [this] { finish_all(); },
          [this] {
            timer_closed_ = true;
            maybe_free();
          }) {}

SmtpExtensionProbe::Conversation* SmtpExtensionProbe::find(core::Stream& stream) {
  for (auto& conversation : conversations_) {
    if (conversation.stream.get() == &stream) return &conversation;
  }
  return nullptr;
}

void SmtpExtensionProbe::on_stream_connected(core::Stream& stream, int status) {
  Conversation* conversation = find(stream);
  if (conversation == nullptr) return;
  if (status != 0) {
    finish_one(*conversation);
    return;
  }
  stream.start_reading();
}

void SmtpExtensionProbe::on_stream_data(core::Stream& stream, std::string_view bytes) {
  Conversation* conversation = find(stream);
  if (conversation == nullptr || conversation->finished) return;
  conversation->replies.feed(bytes);
  while (auto reply = conversation->replies.next()) {
    if (!conversation->greeted && reply->code == 220) {
      conversation->greeted = true;
      stream.write("EHLO podgate\r\n");
      continue;
    }
    if (conversation->greeted && reply->code == 250) {
      std::vector<std::string> extensions;
      for (std::size_t i = 1; i < reply->lines.size(); ++i) {
        std::string extension = reply->lines[i];
        std::transform(extension.begin(), extension.end(), extension.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        extensions.push_back(extension);
      }
      answers_.push_back(std::move(extensions));
      stream.write("QUIT\r\n");
    }
    finish_one(*conversation);
    return;
  }
  if (conversation->replies.broken()) finish_one(*conversation);
}

void SmtpExtensionProbe::on_stream_end(core::Stream& stream, core::StreamEnd) {
  if (Conversation* conversation = find(stream)) finish_one(*conversation);
}

void SmtpExtensionProbe::finish_one(Conversation& conversation) {
  if (conversation.finished) return;
  conversation.finished = true;
  conversation.stream->close_after_flush();
}

void SmtpExtensionProbe::on_stream_closed(core::Stream&) {
  --open_streams_;
  maybe_free();
}

void SmtpExtensionProbe::finish_all() {
  for (auto& conversation : conversations_) finish_one(conversation);
}

void SmtpExtensionProbe::maybe_free() {
  bool all_finished = std::all_of(conversations_.begin(), conversations_.end(),
                                  [](const Conversation& c) { return c.finished; });
  if (!all_finished) return;
  if (!reported_) {
    reported_ = true;
    done_(answers_);
    timer_.close();
  }
  if (open_streams_ == 0 && timer_closed_) delete this;
}

}  // namespace podgate::proxy
