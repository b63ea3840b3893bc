// Builds SSL_CTX objects with podgate's fixed policy: TLS 1.2 and 1.3 only,
// no renegotiation, no compression, server preference for ciphers. The
// certificate may be RSA or ECDSA. Start-up code: errors throw.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace podgate::core {

struct SslCtxDeleter {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

class TlsConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Loads a PEM certificate chain and its private key; throws TlsConfigError
// naming the file and the library's reason when either is unusable or they
// do not match.
SslCtxPtr make_server_context(const std::string& certificate_file,
                              const std::string& private_key_file);

// A client context for talking TLS to pods. Pods are usually addressed by IP
// on a private network with self-signed certificates, so verification is off
// unless a CA file is given.
SslCtxPtr make_client_context(const std::string& ca_file = "");

// The library's most recent error as text (and clears the error queue).
std::string last_tls_error();

}  // namespace podgate::core
