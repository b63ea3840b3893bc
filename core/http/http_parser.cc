#include "core/http/http_parser.h"

#include <llhttp.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace podgate::core::http {

namespace {

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  for (char special : std::string_view("!#$%&'*+-.^_`|~")) {
    if (c == special) return true;
  }
  return false;
}

// One llhttp parser and the message it is building. llhttp is paused twice
// per message: when the headers are complete (so the exact size of the header
// section is known, whatever the split) and when the message is complete (so
// exactly one message comes out per feed and `consumed` is exact).
class ParserCore {
 public:
  ParserCore(llhttp_type_t type, ParserLimits limits) : limits_(limits) {
    llhttp_settings_init(&settings_);
    settings_.on_message_begin = &ParserCore::on_message_begin;
    settings_.on_url = &ParserCore::on_url;
    settings_.on_status = &ParserCore::on_start_line_part;
    settings_.on_method = &ParserCore::on_start_line_part;
    settings_.on_version = &ParserCore::on_start_line_part;
    settings_.on_header_field = &ParserCore::on_header_field;
    settings_.on_header_value = &ParserCore::on_header_value;
    settings_.on_header_value_complete = &ParserCore::on_header_value_complete;
    settings_.on_headers_complete = &ParserCore::on_headers_complete;
    settings_.on_chunk_extension_name = &ParserCore::on_framing_part;
    settings_.on_chunk_extension_value = &ParserCore::on_framing_part;
    settings_.on_body = &ParserCore::on_body;
    settings_.on_message_complete = &ParserCore::on_message_complete;
    llhttp_init(&parser_, type, &settings_);
    parser_.data = this;
  }
  ParserCore(const ParserCore&) = delete;
  ParserCore& operator=(const ParserCore&) = delete;

  ParseStatus feed(std::string_view bytes, std::size_t& consumed) {
    consumed = 0;
    if (failed_) return ParseStatus::Error;
    if (ready_) return ParseStatus::Message;
    if (bytes.empty()) return ParseStatus::NeedMore;
    std::size_t pos = 0;
    for (;;) {
      const llhttp_errno_t status =
          llhttp_execute(&parser_, bytes.data() + pos, bytes.size() - pos);
      if (status == HPE_OK) {
        offset_ += bytes.size() - pos;
        consumed = bytes.size();
        // Still inside a header section: everything fed since the message
        // started is header bytes.
        if (!headers_done_ && offset_ - message_start_ > limits_.max_header_bytes) {
          return fail(header_limit_error());
        }
        return ParseStatus::NeedMore;
      }
      if (status != HPE_PAUSED) return fail(describe(status));

      const auto stop = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - bytes.data());
      llhttp_resume(&parser_);
      offset_ += stop - pos;
      pos = stop;
      if (pause_ == Pause::HeadersComplete) {
        pause_ = Pause::None;
        if (offset_ - message_start_ > limits_.max_header_bytes) return fail(header_limit_error());
        if ((parser_.flags & F_CONTENT_LENGTH) && !(parser_.flags & F_CHUNKED) &&
            parser_.content_length > limits_.max_body_bytes) {
          return fail(body_limit_error());
        }
        continue;
      }
      pause_ = Pause::None;
      consumed = pos;
      message_start_ = offset_;
      return ParseStatus::Message;
    }
  }

  // The peer closed: completes a message whose body runs until the end.
  ParseStatus finish() {
    if (failed_) return ParseStatus::Error;
    if (ready_) return ParseStatus::Message;
    // Right after a message (llhttp has not yet stepped past it): nothing is cut.
    if (offset_ == message_start_) return ParseStatus::NeedMore;
    finishing_ = true;
    const llhttp_errno_t status = llhttp_finish(&parser_);
    finishing_ = false;
    if (ready_) return ParseStatus::Message;
    // Between messages: nothing was cut short.
    if (status == HPE_OK) return ParseStatus::NeedMore;
    return fail(std::string("connection closed before the ") + kind() + " was complete");
  }

  bool in_message() const { return !failed_ && !ready_ && offset_ > message_start_; }

  bool expects_continue() const {
    return !failed_ && !ready_ && headers_done_ && expect_continue_ && body.empty();
  }

  bool take_ready() {
    bool was_ready = ready_;
    ready_ = false;
    return was_ready;
  }

  const std::string& error() const { return error_; }

  // The message being built, or the one ready to be taken.
  std::string method;
  std::string target;
  int status = 0;
  Headers headers;
  std::string body;
  bool keep_alive = true;

 private:
  enum class Pause { None, HeadersComplete, MessageComplete };

  const char* kind() const { return parser_.type == HTTP_REQUEST ? "request" : "response"; }

  std::string header_limit_error() const {
    return "header section too large (over " + std::to_string(limits_.max_header_bytes) + " bytes)";
  }
  std::string body_limit_error() const {
    return "body too large (over " + std::to_string(limits_.max_body_bytes) + " bytes)";
  }

  std::string describe(llhttp_errno_t status) const {
    if (!callback_error_.empty()) return callback_error_;
    if (status == HPE_PAUSED_UPGRADE) return "protocol upgrade not supported";
    const char* reason = llhttp_get_error_reason(&parser_);
    return std::string("malformed ") + kind() + ": " +
           (reason ? reason : llhttp_errno_name(status));
  }

  ParseStatus fail(std::string why) {
    failed_ = true;
    ready_ = false;
    error_ = std::move(why);
    return ParseStatus::Error;
  }

  // RFC 9110 section 10.1.1: only HTTP/1.1 clients wait for "100 Continue",
  // and only a request with a body has anything to hold back.
  static bool wants_continue(const llhttp_t& parser, const Headers& headers) {
    if (parser.http_major != 1 || parser.http_minor < 1) return false;
    const bool has_body = (parser.flags & F_CHUNKED) ||
                          ((parser.flags & F_CONTENT_LENGTH) && parser.content_length > 0);
    if (!has_body) return false;
    std::optional<std::string> expect = find_header(headers, "Expect");
    if (!expect) return false;
    std::string_view value = *expect;
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    constexpr std::string_view kContinue = "100-continue";
    return value.size() == kContinue.size() &&
           std::equal(value.begin(), value.end(), kContinue.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  }

  static ParserCore& self(llhttp_t* parser) { return *static_cast<ParserCore*>(parser->data); }

  // Header-phase bytes kept in memory; the exact count is checked at each
  // pause, this bounds what one large feed can make us store.
  int store_header_bytes(std::size_t length) {
    stored_header_bytes_ += length;
    if (stored_header_bytes_ > limits_.max_header_bytes) {
      callback_error_ = header_limit_error();
      return HPE_USER;
    }
    return 0;
  }

  static int on_message_begin(llhttp_t* parser) {
    ParserCore& core = self(parser);
    core.method.clear();
    core.target.clear();
    core.status = 0;
    core.headers.clear();
    core.body.clear();
    core.keep_alive = true;
    core.field_.clear();
    core.value_.clear();
    core.headers_done_ = false;
    core.expect_continue_ = false;
    core.stored_header_bytes_ = 0;
    core.framing_bytes_ = 0;
    return 0;
  }

  static int on_url(llhttp_t* parser, const char* at, std::size_t length) {
    ParserCore& core = self(parser);
    core.target.append(at, length);
    return core.store_header_bytes(length);
  }

  static int on_start_line_part(llhttp_t* parser, const char*, std::size_t length) {
    return self(parser).store_header_bytes(length);
  }

  // Chunk extensions and trailers are not kept, only bounded.
  static int on_framing_part(llhttp_t* parser, const char*, std::size_t length) {
    ParserCore& core = self(parser);
    core.framing_bytes_ += length;
    if (core.framing_bytes_ > core.limits_.max_header_bytes) {
      core.callback_error_ = core.header_limit_error();
      return HPE_USER;
    }
    return 0;
  }

  static int on_header_field(llhttp_t* parser, const char* at, std::size_t length) {
    ParserCore& core = self(parser);
    // This llhttp lets spaces and other separators into names; RFC 9110 does not.
    for (std::size_t i = 0; i < length; ++i) {
      if (!is_token_char(at[i])) {
        core.callback_error_ = std::string("malformed ") + core.kind() + ": bad header name";
        return HPE_USER;
      }
    }
    if (core.headers_done_) return on_framing_part(parser, at, length);
    core.field_.append(at, length);
    return core.store_header_bytes(length);
  }

  static int on_header_value(llhttp_t* parser, const char* at, std::size_t length) {
    ParserCore& core = self(parser);
    if (core.headers_done_) return on_framing_part(parser, at, length);
    core.value_.append(at, length);
    return core.store_header_bytes(length);
  }

  static int on_header_value_complete(llhttp_t* parser) {
    ParserCore& core = self(parser);
    if (!core.headers_done_)
      core.headers.emplace_back(std::move(core.field_), std::move(core.value_));
    core.field_.clear();
    core.value_.clear();
    return 0;
  }

  static int on_headers_complete(llhttp_t* parser) {
    ParserCore& core = self(parser);
    core.headers_done_ = true;
    if (parser->type == HTTP_REQUEST) {
      core.method = llhttp_method_name(static_cast<llhttp_method_t>(parser->method));
      core.expect_continue_ = wants_continue(*parser, core.headers);
    } else {
      core.status = parser->status_code;
    }
    // podgate speaks no upgraded protocols: an Upgrade or CONNECT request is
    // an ordinary message (answered as such), not the end of HTTP.
    parser->upgrade = 0;
    core.pause_ = Pause::HeadersComplete;
    return HPE_PAUSED;
  }

  static int on_body(llhttp_t* parser, const char* at, std::size_t length) {
    ParserCore& core = self(parser);
    if (core.body.size() + length > core.limits_.max_body_bytes) {
      core.callback_error_ = core.body_limit_error();
      return HPE_USER;
    }
    core.body.append(at, length);
    return 0;
  }

  static int on_message_complete(llhttp_t* parser) {
    ParserCore& core = self(parser);
    core.ready_ = true;
    core.headers_done_ = false;
    if (core.finishing_) {
      core.keep_alive = false;
      return 0;
    }
    core.keep_alive = llhttp_should_keep_alive(parser) != 0;
    core.pause_ = Pause::MessageComplete;
    return HPE_PAUSED;
  }

  ParserLimits limits_;
  llhttp_settings_t settings_;
  llhttp_t parser_;
  std::uint64_t offset_ = 0;         // bytes llhttp has consumed in all
  std::uint64_t message_start_ = 0;  // offset_ where the current message began
  std::size_t stored_header_bytes_ = 0;
  std::size_t framing_bytes_ = 0;
  std::string field_;
  std::string value_;
  std::string callback_error_;
  std::string error_;
  Pause pause_ = Pause::None;
  bool headers_done_ = false;
  bool expect_continue_ = false;  // the current request's, once its headers are done
  bool ready_ = false;
  bool failed_ = false;
  bool finishing_ = false;
};

}  // namespace

struct RequestParser::State {
  explicit State(ParserLimits limits) : core(HTTP_REQUEST, limits) {}
  ParserCore core;
};

RequestParser::RequestParser(ParserLimits limits) : state_(std::make_unique<State>(limits)) {}
RequestParser::~RequestParser() = default;

ParseStatus RequestParser::feed(std::string_view bytes, std::size_t& consumed) {
  return state_->core.feed(bytes, consumed);
}

Request RequestParser::take() {
  ParserCore& core = state_->core;
  Request request;
  if (!core.take_ready()) return request;
  request.method = std::move(core.method);
  request.target = std::move(core.target);
  request.headers = std::move(core.headers);
  request.body = std::move(core.body);
  request.keep_alive = core.keep_alive;
  return request;
}

const std::string& RequestParser::error() const {
  return state_->core.error();
}

bool RequestParser::in_request() const {
  return state_->core.in_message();
}

bool RequestParser::expects_continue() const {
  return state_->core.expects_continue();
}

struct ResponseParser::State {
  explicit State(ParserLimits limits) : core(HTTP_RESPONSE, limits) {}
  ParserCore core;
};

ResponseParser::ResponseParser(ParserLimits limits) : state_(std::make_unique<State>(limits)) {}
ResponseParser::~ResponseParser() = default;

ParseStatus ResponseParser::feed(std::string_view bytes, std::size_t& consumed) {
  return state_->core.feed(bytes, consumed);
}

ParseStatus ResponseParser::finish() {
  return state_->core.finish();
}

Response ResponseParser::take() {
  ParserCore& core = state_->core;
  Response response;
  if (!core.take_ready()) return response;
  response.status = core.status;
  response.headers = std::move(core.headers);
  response.body = std::move(core.body);
  response.keep_alive = core.keep_alive;
  return response;
}

const std::string& ResponseParser::error() const {
  return state_->core.error();
}

}  // namespace podgate::core::http
