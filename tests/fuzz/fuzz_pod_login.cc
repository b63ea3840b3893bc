// Differential fuzzing of podgate's side of the login dialogue with a pod
// (IMAP, POP3, SMTP with PLAIN or LOGIN): what a pod sends is fed whole, in
// pseudo-random chunks and split in two, and every run must send the pod
// the same bytes and reach the same verdict with the same leftover. Along
// the way: the verdict stays once reached, nothing is sent after it, the
// password leaves only in what carries the credentials (never before
// credentials_sent()), and a verdict that judges the credentials comes only
// after they were sent.
//
// Input layout: byte 0 picks the dialogue, bytes 1 and 2 seed the splits,
// the rest is what the pod sends.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/protocol/sasl/sasl.h"
#include "proxy/session/imap_backend_login.h"
#include "proxy/session/pop3_backend_login.h"
#include "proxy/session/smtp_backend_login.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using podgate::Secret;
using podgate::fuzz::check;
using podgate::proxy::BackendLogin;
using podgate::proxy::ClientIdentity;
using podgate::proxy::Credentials;
using podgate::proxy::LoginOutcome;

constexpr std::size_t kHeaderBytes = 3;
constexpr std::string_view kPassword = "pw-9f3k2";

enum class Dialogue { Imap, Pop3, SmtpPlain, SmtpLogin };

std::unique_ptr<BackendLogin> make(Dialogue dialogue, const Credentials& credentials) {
  ClientIdentity client{"192.0.2.7", 40000, "127.0.0.1", 993, "sess1"};
  using Mechanism = podgate::proxy::SmtpBackendLogin::Mechanism;
  switch (dialogue) {
    case Dialogue::Imap:
      return std::make_unique<podgate::proxy::ImapBackendLogin>(credentials, client);
    case Dialogue::Pop3:
      return std::make_unique<podgate::proxy::Pop3BackendLogin>(credentials, client);
    case Dialogue::SmtpPlain:
      return std::make_unique<podgate::proxy::SmtpBackendLogin>(credentials, client, "client",
                                                                Mechanism::Plain);
    case Dialogue::SmtpLogin:
      return std::make_unique<podgate::proxy::SmtpBackendLogin>(credentials, client, "client",
                                                                Mechanism::Login);
  }
  return nullptr;
}

struct Run {
  std::optional<LoginOutcome> verdict;
  std::string sent;
  std::string leftover;
  bool credentials_sent = false;
};

bool same(const Run& a, const Run& b) {
  return a.verdict == b.verdict && a.sent == b.sent && a.leftover == b.leftover &&
         a.credentials_sent == b.credentials_sent;
}

// The forms the password can take on the wire: as is (LOGIN, PASS), in a
// PLAIN message, and alone in base64 (AUTH LOGIN).
bool shows_password(std::string_view sent) {
  static const std::string plain =
      podgate::sasl::base64_encode(podgate::sasl::make_plain("alice@example.com", kPassword));
  static const std::string alone = podgate::sasl::base64_encode(kPassword);
  return sent.find(kPassword) != std::string_view::npos ||
         sent.find(plain) != std::string_view::npos || sent.find(alone) != std::string_view::npos;
}

template <typename Chunks>
Run run(Dialogue dialogue, Chunks&& chunks) {
  Credentials credentials{"alice@example.com", Secret(kPassword)};
  std::unique_ptr<BackendLogin> login = make(dialogue, credentials);
  Run result;
  std::string after_verdict;  // as the session does: the pod's bytes go to the client
  chunks([&](std::string_view chunk) {
    if (result.verdict) {
      after_verdict.append(chunk);
      return;
    }
    result.verdict = login->feed(chunk);
    Secret output = login->take_output();
    // The password goes out only with (or after) the credentials.
    if (!login->credentials_sent()) check(!shows_password(output.view()));
    result.sent.append(output.view());
  });
  if (result.verdict) {
    // A verdict stays, and nothing is sent after it.
    check(login->feed("* OK more\r\n") == result.verdict);
    check(login->take_output().empty());
  }
  result.credentials_sent = login->credentials_sent();
  if (result.verdict == LoginOutcome::LoggedIn) {
    result.leftover = login->take_leftover() + after_verdict;
  }
  if (!result.credentials_sent) check(!shows_password(result.sent));
  // Only what the pod says of credentials it has judges them; a refused
  // user name (POP3 USER, an SMTP AUTH LOGIN prompt) comes before them.
  if (result.verdict == LoginOutcome::LoggedIn || result.verdict == LoginOutcome::InUse ||
      result.verdict == LoginOutcome::WrongPassword) {
    check(result.credentials_sent);
  }
  if (result.verdict == LoginOutcome::UnknownUser) {
    check(!result.credentials_sent &&
          (dialogue == Dialogue::Pop3 || dialogue == Dialogue::SmtpLogin));
  }
  if (result.verdict == LoginOutcome::PodFault) check(!login->problem().empty());
  return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < kHeaderBytes) return 0;
  const auto dialogue = static_cast<Dialogue>(data[0] % 4);
  const std::uint32_t seed = std::uint32_t{data[1]} << 8 | data[2];
  const std::string_view input(reinterpret_cast<const char*>(data) + kHeaderBytes,
                               size - kHeaderBytes);

  const Run whole = run(dialogue, [&](auto feed) { feed(input); });
  const Run small =
      run(dialogue, [&](auto feed) { podgate::fuzz::feed_in_small_chunks(input, seed, feed); });
  check(same(whole, small));
  const std::size_t cut = input.empty() ? 0 : seed % (input.size() + 1);
  const Run in_two = run(dialogue, [&](auto feed) {
    feed(input.substr(0, cut));
    feed(input.substr(cut));
  });
  check(same(whole, in_two));
  return 0;
}
