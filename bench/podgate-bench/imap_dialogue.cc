#include "bench/podgate-bench/imap_dialogue.h"

#include "bench/podgate-bench/text.h"
#include "proxy/protocol/imap/imap_text.h"
#include "proxy/protocol/sasl/sasl.h"

namespace podgate::bench {

using imap::quote;

namespace {

bool is_word(std::string_view text, std::string_view word) {
  return text.size() == word.size() && istarts_with(text, word);
}

}  // namespace

ImapDialogue::ImapDialogue(AuthMechanism auth, CommandKind command, const Credential& credential)
    : auth_(auth), command_(command), credential_(credential) {}

Progress ImapDialogue::begin(LoginState state) {
  switch (state) {
    case LoginState::Greeting:
      expect_ = Expect::Greeting;
      return Progress::need_more();
    case LoginState::StartTls:
      send("S STARTTLS");
      expect_ = Expect::StartTlsAnswer;
      return Progress::tls_clock_starts();
    case LoginState::Auth:
      if (auth_ == AuthMechanism::Login) {
        send("A LOGIN " + quote(credential_.user) + " " + quote(credential_.password));
        expect_ = Expect::AuthAnswer;
      } else if (sasl_ir_) {
        send("A AUTHENTICATE PLAIN " +
             sasl::base64_encode(sasl::make_plain(credential_.user, credential_.password)));
        expect_ = Expect::AuthAnswer;
      } else {
        send("A AUTHENTICATE PLAIN");
        expect_ = Expect::AuthContinuation;
      }
      return Progress::need_more();
    case LoginState::Command:
      if (command_ == CommandKind::Idle) {
        send("C IDLE");
        expect_ = Expect::IdleContinuation;
      } else {
        send("C SELECT INBOX");
        expect_ = Expect::SelectAnswer;
      }
      return Progress::need_more();
    case LoginState::Logout:
      send("Z LOGOUT");
      expect_ = Expect::LogoutAnswer;
      return Progress::need_more();
    default:
      return Progress::failed(ErrorKind::Protocol);
  }
}

Progress ImapDialogue::feed(std::string_view bytes) {
  reader_.feed(bytes);
  while (std::optional<std::string_view> line = reader_.next_line()) {
    Progress progress = on_line(*line);
    if (progress.kind != Progress::Kind::NeedMore) return progress;
  }
  return reader_.broken() ? Progress::failed(ErrorKind::Protocol) : Progress::need_more();
}

Progress ImapDialogue::on_line(std::string_view line) {
  if (line.starts_with("* ")) {
    return expect_ == Expect::Greeting ? on_greeting(line.substr(2)) : Progress::need_more();
  }
  if (line.starts_with("+")) return on_continuation();
  std::size_t space = line.find(' ');
  if (expect_ == Expect::Greeting || space == std::string_view::npos) {
    return Progress::failed(ErrorKind::Protocol);
  }
  std::string_view tag = line.substr(0, space);
  std::string_view rest = line.substr(space + 1);
  space = rest.find(' ');
  std::string_view status = rest.substr(0, space);
  std::string_view text = space == std::string_view::npos ? "" : rest.substr(space + 1);
  return on_tagged(tag, status, text);
}

Progress ImapDialogue::on_greeting(std::string_view rest) {
  expect_ = Expect::Nothing;
  // PREAUTH and BYE are no greeting a login can follow.
  if (!is_word(rest.substr(0, rest.find(' ')), "OK")) return Progress::failed(ErrorKind::Greeting);
  sasl_ir_ = icontains(rest, " SASL-IR ") || icontains(rest, " SASL-IR]");
  return Progress::done();
}

Progress ImapDialogue::on_continuation() {
  switch (expect_) {
    case Expect::AuthContinuation:
      send(sasl::base64_encode(sasl::make_plain(credential_.user, credential_.password)));
      expect_ = Expect::AuthAnswer;
      return Progress::need_more();
    case Expect::IdleContinuation:
      expect_ = Expect::Nothing;
      return Progress::done();
    default:
      return Progress::failed(ErrorKind::Protocol);
  }
}

Progress ImapDialogue::on_tagged(std::string_view tag, std::string_view status,
                                 std::string_view text) {
  std::string_view wanted;
  switch (expect_) {
    case Expect::StartTlsAnswer:
      wanted = "S";
      break;
    case Expect::AuthContinuation:
    case Expect::AuthAnswer:
      wanted = "A";
      break;
    case Expect::SelectAnswer:
    case Expect::IdleContinuation:
      wanted = "C";
      break;
    case Expect::FetchAnswer:
      wanted = "F";
      break;
    case Expect::LogoutAnswer:
      wanted = "Z";
      break;
    default:
      return Progress::failed(ErrorKind::Protocol);
  }
  bool ok = is_word(status, "OK");
  if (tag != wanted || !(ok || is_word(status, "NO") || is_word(status, "BAD"))) {
    return Progress::failed(ErrorKind::Protocol);
  }
  Expect was = expect_;
  expect_ = Expect::Nothing;
  switch (was) {
    case Expect::StartTlsAnswer:
      return ok ? Progress::done() : Progress::failed(ErrorKind::Tls);
    case Expect::AuthContinuation:
    case Expect::AuthAnswer:
      if (ok) return Progress::done();
      return Progress::failed(istarts_with(text, "[UNAVAILABLE") ? ErrorKind::AuthUnavailable
                                                                 : ErrorKind::AuthFailed);
    case Expect::SelectAnswer:
      if (!ok) return Progress::failed(ErrorKind::Command);
      if (command_ != CommandKind::Fetch) return Progress::done();
      send("F FETCH 1 BODY.PEEK[]");
      expect_ = Expect::FetchAnswer;
      return Progress::need_more();
    case Expect::FetchAnswer:
      return ok ? Progress::done() : Progress::failed(ErrorKind::Command);
    case Expect::IdleContinuation:
      // IDLE must be answered with "+" first; a tagged answer ends it.
      return Progress::failed(ErrorKind::Command);
    case Expect::LogoutAnswer:
      return ok ? Progress::done() : Progress::failed(ErrorKind::Protocol);
    default:
      return Progress::failed(ErrorKind::Protocol);
  }
}

}  // namespace podgate::bench
