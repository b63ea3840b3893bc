// The SASL mechanisms podgate takes from clients, in one table: a listener's
// "mechanisms" names them, and every capability list (IMAP AUTH=, POP3 CAPA
// SASL and a bare AUTH, SMTP EHLO AUTH) is built from the listener's choice,
// so a new mechanism is one new row here and one new exchange.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace podgate::sasl {

enum class Mechanism {
  Plain,  // RFC 4616
  Login,  // draft-murchison-sasl-login: user name, then password
};

// The registered name ("PLAIN").
std::string_view to_string(Mechanism mechanism);
// The mechanism carries the user's password ("basic authentication", what a
// directory's "basic_auth": false turns off).
bool carries_password(Mechanism mechanism);
// The mechanism registered under `name`, in any case (RFC 4422 names are
// upper case; clients send them in any).
std::optional<Mechanism> mechanism_named(std::string_view name);
// Every registered mechanism, in the order capability lists give them.
const std::vector<Mechanism>& all_mechanisms();
// What a listener offers when its config does not say.
const std::vector<Mechanism>& default_mechanisms();

// The names of `offered`, each with `prefix`, joined by `separator`:
// ("AUTH=", " ") for IMAP, ("", " ") for POP3 CAPA and SMTP EHLO, ("",
// "\r\n") for POP3's bare AUTH.
std::string mechanism_list(const std::vector<Mechanism>& offered, std::string_view prefix,
                           std::string_view separator);

}  // namespace podgate::sasl
