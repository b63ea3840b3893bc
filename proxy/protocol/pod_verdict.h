// What a pod's answer to podgate's login means, per protocol, in one table
// (README.md, "What the pod's answer means", shows the same rows). Only the
// pod's explicit authentication failure is a wrong password: that is what
// the brute-force guard and limits.max_auth_attempts count. A busy mailbox
// is InUse; every other answer (a temporary failure, a server bug, a limit,
// an authorization failure, a syntax error, anything unexpected) is the
// pod's fault and is never held against the client, so a misconfigured pod
// cannot lock users out. Pure functions over one answer; fuzzed with the pod
// dialogues.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "proxy/login_outcome.h"

namespace podgate::proxy {

// IMAP: the tagged answer to LOGIN or AUTHENTICATE, without the tag
// ("NO [AUTHENTICATIONFAILED] Authentication failed.").
LoginOutcome imap_login_verdict(std::string_view answer);

// POP3: the answer to USER, PASS or AUTH ("-ERR [AUTH] Authentication failed.").
// To USER, "+OK" only means "go on" (the caller knows that).
LoginOutcome pop3_login_verdict(std::string_view answer);

// SMTP: the reply code that ends AUTH (235, 535, 454, ...).
LoginOutcome smtp_auth_verdict(int code);

// The response code of an IMAP or POP3 answer, as sent, without its
// brackets: "AUTHENTICATIONFAILED" for "NO [AUTHENTICATIONFAILED] ...", "" if
// it has none. `status_length`: the status word's length ("NO", "-ERR").
std::string_view response_code(std::string_view answer, std::size_t status_length);

// "NO [UNAVAILABLE]": an IMAP or POP3 answer's status word and response
// code, fit for the error log. Never the pod's text, which may name the user.
std::string answer_summary(std::string_view answer);

}  // namespace podgate::proxy
