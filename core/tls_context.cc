#include "core/tls_context.h"

#include <openssl/err.h>

namespace podgate::core {

std::string last_tls_error() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? "unknown TLS error" : text;
}

namespace {

SslCtxPtr make_context(const SSL_METHOD* method) {
  SslCtxPtr context(SSL_CTX_new(method));
  if (!context) throw TlsConfigError("cannot create TLS context: " + last_tls_error());
  // TLS 1.0/1.1 are broken and forbidden for mail by RFC 8996.
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(context.get(), TLS1_3_VERSION);
  long options = SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE;
#ifdef SSL_OP_NO_RENEGOTIATION
  // OpenSSL would otherwise honour a client's renegotiation request; BoringSSL
  // never renegotiates as a server.
  options |= SSL_OP_NO_RENEGOTIATION;
#endif
  SSL_CTX_set_options(context.get(), options);
  // Release read/write buffers between records so idle sessions stay small.
  SSL_CTX_set_mode(context.get(), SSL_MODE_RELEASE_BUFFERS);
  return context;
}

}  // namespace

SslCtxPtr make_server_context(const std::string& certificate_file,
                              const std::string& private_key_file) {
  SslCtxPtr context = make_context(TLS_server_method());
  if (SSL_CTX_use_certificate_chain_file(context.get(), certificate_file.c_str()) != 1) {
    throw TlsConfigError("cannot load certificate " + certificate_file + ": " + last_tls_error());
  }
  if (SSL_CTX_use_PrivateKey_file(context.get(), private_key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw TlsConfigError("cannot load private key " + private_key_file + ": " + last_tls_error());
  }
  if (SSL_CTX_check_private_key(context.get()) != 1) {
    throw TlsConfigError("private key " + private_key_file + " does not match certificate " +
                         certificate_file);
  }
  return context;
}

SslCtxPtr make_client_context(const std::string& ca_file) {
  SslCtxPtr context = make_context(TLS_client_method());
  if (!ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(context.get(), ca_file.c_str(), nullptr) != 1) {
      throw TlsConfigError("cannot load CA file " + ca_file + ": " + last_tls_error());
    }
    SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  }
  return context;
}

}  // namespace podgate::core
