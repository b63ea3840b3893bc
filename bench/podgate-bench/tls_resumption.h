// --resume: each connection slot keeps the last TLS session its server handed
// out and offers it in the slot's next handshake; without --resume every
// login makes a full handshake. core::Stream creates its SSL and sends the
// ClientHello within start_tls_client(), so the session is put in place by
// the context's info callback at the very start of that handshake (before the
// ClientHello is built), and new sessions (TLS 1.3 tickets arrive after the
// handshake) come in through the context's new-session callback.
#pragma once

#include <openssl/ssl.h>

namespace podgate::bench {

struct SessionSlot {
  SessionSlot() = default;
  SessionSlot(const SessionSlot&) = delete;
  SessionSlot& operator=(const SessionSlot&) = delete;
  ~SessionSlot() {
    if (session != nullptr) SSL_SESSION_free(session);
  }

  SSL_SESSION* session = nullptr;  // owned; offered by the slot's next handshake
  bool resumed = false;            // whether the slot's latest handshake resumed
};

class TlsResumption {
 public:
  // Installs the callbacks on a client context used on one thread.
  static void enable(SSL_CTX* context);
  // The next handshake started on this thread belongs to `slot` (null: none).
  static void arm(SessionSlot* slot);
};

}  // namespace podgate::bench
