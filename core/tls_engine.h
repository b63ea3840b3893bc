// TLS over memory BIOs: ciphertext in, plaintext out, and the reverse. The
// engine never touches a socket, so the same code serves the client side
// (podgate as TLS server) and the pod side (podgate as TLS client), and unit
// tests can run two engines against each other in memory.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

namespace podgate::core {

class TlsEngine {
 public:
  enum class Status {
    Ok,      // progress made (or nothing to do); look at handshake_done()
    Closed,  // the peer sent close_notify
    Failed,  // protocol error, bad certificate, renegotiation attempt...
  };

  static std::unique_ptr<TlsEngine> server(SSL_CTX* context);
  // `server_name` goes out as SNI; when the context verifies peers,
  // `expected_ip` ("" for none) must be in the certificate's IP addresses.
  static std::unique_ptr<TlsEngine> client(SSL_CTX* context, const std::string& server_name,
                                           const std::string& expected_ip = "");
  ~TlsEngine();

  TlsEngine(const TlsEngine&) = delete;
  TlsEngine& operator=(const TlsEngine&) = delete;

  // Hands ciphertext from the network to the engine, then drives the
  // handshake and decrypts whatever complete records there are; decrypted
  // bytes are appended to `plaintext`.
  Status receive(std::string_view ciphertext, std::string& plaintext);

  // Encrypts application bytes. Only valid once handshake_done().
  Status send(std::string_view plaintext);

  // Starts a client handshake (ClientHello goes to pending output).
  Status start_handshake();

  // Sends close_notify.
  void shutdown();

  // Ciphertext waiting to be written to the network; moves it out.
  std::string take_output();
  bool has_output() const;
  std::size_t output_size() const;

  bool handshake_done() const { return handshake_done_; }
  std::string version() const;  // "TLSv1.3", "TLSv1.2", or "" before the handshake
  std::string last_error() const { return last_error_; }

 private:
  explicit TlsEngine(SSL* ssl);
  Status drive(std::string& plaintext);
  Status fail(const char* where, int ssl_error);

  SSL* ssl_;
  BIO* network_in_;   // owned by ssl_
  BIO* network_out_;  // owned by ssl_
  bool handshake_done_ = false;
  bool failed_ = false;
  std::string last_error_;
};

}  // namespace podgate::core
