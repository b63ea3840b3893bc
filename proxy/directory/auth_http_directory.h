// nginx's mail auth_http protocol, so an existing nginx mail auth service
// works unchanged with podgate. Each login is one GET to the service with
// the credentials in headers:
//   Auth-Method: plain, Auth-User, Auth-Pass (escaped as nginx does),
//   Auth-Protocol: imap|pop3|smtp, Auth-Login-Attempt: N, Client-IP,
//   Auth-SSL: on (when the client uses TLS)
// and the answer in headers:
//   Auth-Status: OK, Auth-Server: <ip>, Auth-Port: <port>
//   [Auth-User, Auth-Pass: what to log in to the server with instead]
// or
//   Auth-Status: <message>, [Auth-Wait: <seconds>], [Auth-Error-Code: 535 5.7.8]
// The service checks the password; the pod checks it again on the login
// hop. Answers are never cached (they depend on the password).
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "core/http/http_client.h"
#include "core/metrics.h"
#include "proxy/config.h"
#include "proxy/directory/directory_answers.h"
#include "proxy/directory/directory_client.h"
#include "proxy/directory/directory_http_options.h"

namespace podgate::proxy {

// interpret_auth_http_answer(), what the answer's headers mean, is in
// directory_answers.h.

// nginx escapes only '%', space and bytes outside printable ASCII in
// Auth-User/Auth-Pass, so services that do not decode still see "a@b".
std::string auth_http_escape(std::string_view text);

class AuthHttpDirectory : public DirectoryClient {
 public:
  AuthHttpDirectory(uv_loop_t* loop, const DirectoryConfig& config,
                    core::metrics::Registry& metrics);
  ~AuthHttpDirectory() override;

  void lookup(const LookupRequest& request, LookupDone done) override;
  bool wants_password() const override { return true; }
  void close() override;

 private:
  core::metrics::Counter& count(const LookupResult& result);

  std::unique_ptr<core::http::Client> client_;
  core::metrics::Counter& answered_ok_;
  core::metrics::Counter& answered_refused_;
  core::metrics::Counter& failed_;
  bool closed_ = false;
};

}  // namespace podgate::proxy
