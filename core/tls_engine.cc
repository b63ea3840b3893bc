#include "core/tls_engine.h"

#include <openssl/x509.h>

#include <openssl/err.h>

#include "core/tls_context.h"

namespace podgate::core {

namespace {
// Decrypt in chunks of one maximal TLS record.
constexpr int kReadChunk = 16 * 1024;
}  // namespace

std::unique_ptr<TlsEngine> TlsEngine::server(SSL_CTX* context) {
  SSL* ssl = SSL_new(context);
  if (ssl == nullptr) return nullptr;
  SSL_set_accept_state(ssl);
  return std::unique_ptr<TlsEngine>(new TlsEngine(ssl));
}

std::unique_ptr<TlsEngine> TlsEngine::client(SSL_CTX* context, const std::string& server_name,
                                             const std::string& expected_ip) {
  SSL* ssl = SSL_new(context);
  if (ssl == nullptr) return nullptr;
  SSL_set_connect_state(ssl);
  if (!server_name.empty()) SSL_set_tlsext_host_name(ssl, server_name.c_str());
  if (!expected_ip.empty() &&
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), expected_ip.c_str()) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  return std::unique_ptr<TlsEngine>(new TlsEngine(ssl));
}

TlsEngine::TlsEngine(SSL* ssl)
    : ssl_(ssl), network_in_(BIO_new(BIO_s_mem())), network_out_(BIO_new(BIO_s_mem())) {
  // A memory BIO that runs dry must report "retry", not end-of-file.
  BIO_set_mem_eof_return(network_in_, -1);
  BIO_set_mem_eof_return(network_out_, -1);
  SSL_set_bio(ssl_, network_in_, network_out_);
}

TlsEngine::~TlsEngine() {
  SSL_free(ssl_);
}

TlsEngine::Status TlsEngine::fail(const char* where, int ssl_error) {
  failed_ = true;
  last_error_ =
      std::string(where) + " (ssl error " + std::to_string(ssl_error) + "): " + last_tls_error();
  return Status::Failed;
}

TlsEngine::Status TlsEngine::start_handshake() {
  std::string unused;
  return drive(unused);
}

TlsEngine::Status TlsEngine::receive(std::string_view ciphertext, std::string& plaintext) {
  if (!ciphertext.empty() &&
      BIO_write(network_in_, ciphertext.data(), static_cast<int>(ciphertext.size())) !=
          static_cast<int>(ciphertext.size())) {
    return fail("buffering ciphertext", 0);
  }
  return drive(plaintext);
}

TlsEngine::Status TlsEngine::drive(std::string& plaintext) {
  // OpenSSL's SSL_get_error() consults the thread's error queue: a stale
  // entry from another connection on this thread would read as our failure.
  ERR_clear_error();
  if (!handshake_done_) {
    int result = SSL_do_handshake(ssl_);
    if (result != 1) {
      int error = SSL_get_error(ssl_, result);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return Status::Ok;
      return fail("handshake", error);
    }
    handshake_done_ = true;
  }
  // Decrypted into one buffer per thread, then appended: growing the output
  // by a zero-filled chunk before every SSL_read cost a 16 KiB memset per
  // read on the relay's hot path.
  thread_local char chunk[kReadChunk];
  for (;;) {
    int result = SSL_read(ssl_, chunk, kReadChunk);
    if (result > 0) {
      plaintext.append(chunk, static_cast<std::size_t>(result));
      continue;
    }
    int error = SSL_get_error(ssl_, result);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return Status::Ok;
    if (error == SSL_ERROR_ZERO_RETURN) return Status::Closed;
    return fail("read", error);
  }
}

TlsEngine::Status TlsEngine::send(std::string_view plaintext) {
  ERR_clear_error();
  while (!plaintext.empty()) {
    int result = SSL_write(ssl_, plaintext.data(), static_cast<int>(plaintext.size()));
    if (result <= 0) return fail("write", SSL_get_error(ssl_, result));
    plaintext.remove_prefix(static_cast<std::size_t>(result));
  }
  return Status::Ok;
}

void TlsEngine::shutdown() {
  // After a fatal error there is no session left to close politely.
  if (!handshake_done_ || failed_) return;
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::size_t TlsEngine::output_size() const {
  return BIO_ctrl_pending(network_out_);
}

bool TlsEngine::has_output() const {
  return BIO_ctrl_pending(network_out_) > 0;
}

std::string TlsEngine::take_output() {
  std::string output(BIO_ctrl_pending(network_out_), '\0');
  if (!output.empty()) {
    int read = BIO_read(network_out_, output.data(), static_cast<int>(output.size()));
    output.resize(read > 0 ? static_cast<std::size_t>(read) : 0);
  }
  return output;
}

std::string TlsEngine::version() const {
  return handshake_done_ ? SSL_get_version(ssl_) : "";
}

}  // namespace podgate::core
