#include "bench/podgate-bench/pop3_dialogue.h"

#include "bench/podgate-bench/text.h"
#include "proxy/protocol/sasl/sasl.h"

namespace podgate::bench {

namespace {

enum class Status { Ok, Err, Unknown };

Status status_of(std::string_view line, std::string_view& text) {
  auto word = [&](std::string_view status) {
    if (!line.starts_with(status)) return false;
    if (line.size() > status.size() && line[status.size()] != ' ') return false;
    text = line.size() > status.size() ? line.substr(status.size() + 1) : "";
    return true;
  };
  if (word("+OK")) return Status::Ok;
  if (word("-ERR")) return Status::Err;
  return Status::Unknown;
}

}  // namespace

Pop3Dialogue::Pop3Dialogue(AuthMechanism auth, const Credential& credential)
    : auth_(auth), credential_(credential) {}

Progress Pop3Dialogue::begin(LoginState state) {
  switch (state) {
    case LoginState::Greeting:
      expect_ = Expect::Greeting;
      return Progress::need_more();
    case LoginState::StartTls:
      send("STLS");
      expect_ = Expect::StlsAnswer;
      return Progress::tls_clock_starts();
    case LoginState::Auth:
      if (auth_ == AuthMechanism::Login) {
        send("USER " + credential_.user);
        expect_ = Expect::UserAnswer;
      } else {
        send("AUTH PLAIN " +
             sasl::base64_encode(sasl::make_plain(credential_.user, credential_.password)));
        expect_ = Expect::AuthAnswer;
      }
      return Progress::need_more();
    case LoginState::Command:
      send("STAT");
      expect_ = Expect::StatAnswer;
      return Progress::need_more();
    case LoginState::Logout:
      send("QUIT");
      expect_ = Expect::QuitAnswer;
      return Progress::need_more();
    default:
      return Progress::failed(ErrorKind::Protocol);
  }
}

Progress Pop3Dialogue::feed(std::string_view bytes) {
  framer_.feed(bytes);
  for (;;) {
    protocol::FramedLine line = framer_.next_line();
    if (line.kind == protocol::FramedLine::Kind::NeedMore) return Progress::need_more();
    if (line.kind == protocol::FramedLine::Kind::TooLong) {
      return Progress::failed(ErrorKind::Protocol);
    }
    Progress progress = on_line(line.text);
    if (progress.kind != Progress::Kind::NeedMore) return progress;
  }
}

Progress Pop3Dialogue::on_line(std::string_view line) {
  std::string_view text;
  Status status = status_of(line, text);
  // A "+" continuation counts as unknown too: AUTH PLAIN carries its response.
  if (status == Status::Unknown) return Progress::failed(ErrorKind::Protocol);
  bool ok = status == Status::Ok;
  Expect was = expect_;
  expect_ = Expect::Nothing;
  switch (was) {
    case Expect::Greeting:
      return ok ? Progress::done() : Progress::failed(ErrorKind::Greeting);
    case Expect::StlsAnswer:
      return ok ? Progress::done() : Progress::failed(ErrorKind::Tls);
    case Expect::UserAnswer:
      if (ok) {
        send("PASS " + credential_.password);
        expect_ = Expect::PassAnswer;
        return Progress::need_more();
      }
      [[fallthrough]];
    case Expect::PassAnswer:
    case Expect::AuthAnswer:
      if (ok) return Progress::done();
      return Progress::failed(istarts_with(text, "[SYS/TEMP") ? ErrorKind::AuthUnavailable
                                                              : ErrorKind::AuthFailed);
    case Expect::StatAnswer:
      return ok ? Progress::done() : Progress::failed(ErrorKind::Command);
    case Expect::QuitAnswer:
      return ok ? Progress::done() : Progress::failed(ErrorKind::Protocol);
    case Expect::Nothing:
      break;
  }
  return Progress::failed(ErrorKind::Protocol);
}

}  // namespace podgate::bench
