#include "bench/podgate-bench/tls_resumption.h"

#include <utility>

namespace podgate::bench {

namespace {

thread_local SessionSlot* armed_slot = nullptr;

int slot_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

SessionSlot* slot_of(const SSL* ssl) {
  return static_cast<SessionSlot*>(SSL_get_ex_data(ssl, slot_index()));
}

void on_info(const SSL* const_ssl, int where, int) {
  // The callback gets a const SSL, but the SSL itself is ours and mutable.
  SSL* ssl = const_cast<SSL*>(const_ssl);
  if ((where & SSL_CB_HANDSHAKE_START) != 0 && armed_slot != nullptr) {
    SessionSlot* slot = std::exchange(armed_slot, nullptr);
    SSL_set_ex_data(ssl, slot_index(), slot);
    slot->resumed = false;
    if (slot->session != nullptr) SSL_set_session(ssl, slot->session);
  }
  if ((where & SSL_CB_HANDSHAKE_DONE) != 0) {
    if (SessionSlot* slot = slot_of(ssl)) slot->resumed = SSL_session_reused(ssl) == 1;
  }
}

int on_new_session(SSL* ssl, SSL_SESSION* session) {
  SessionSlot* slot = slot_of(ssl);
  if (slot == nullptr) return 0;  // not ours to keep: the library frees it
  if (slot->session != nullptr) SSL_SESSION_free(slot->session);
  slot->session = session;
  return 1;  // the slot owns it now
}

}  // namespace

void TlsResumption::enable(SSL_CTX* context) {
  slot_index();  // allocated before any handshake
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(context, &on_new_session);
  SSL_CTX_set_info_callback(context, &on_info);
}

void TlsResumption::arm(SessionSlot* slot) {
  armed_slot = slot;
}

}  // namespace podgate::bench
