// Two TlsEngines talk to each other through memory: no sockets, no loop.
#include <catch2/catch.hpp>

#include "core/tls_context.h"
#include "core/tls_engine.h"
#include "tests/unit/certificates_fixture.h"

using podgate::core::TlsEngine;
namespace core = podgate::core;
namespace test = podgate::test;

namespace {

// Moves records back and forth until neither side has anything to say.
// Returns false as soon as either side fails.
bool pump(TlsEngine& client, TlsEngine& server, std::string& client_got, std::string& server_got) {
  for (int round = 0; round < 20; ++round) {
    bool moved = false;
    if (client.has_output()) {
      moved = true;
      if (server.receive(client.take_output(), server_got) == TlsEngine::Status::Failed) {
        return false;
      }
    }
    if (server.has_output()) {
      moved = true;
      if (client.receive(server.take_output(), client_got) == TlsEngine::Status::Failed) {
        return false;
      }
    }
    if (!moved) return true;
  }
  return true;
}

}  // namespace

TEST_CASE("TLS engines complete a handshake and carry data both ways", "[tls]") {
  auto key_type = GENERATE(test::KeyType::Rsa, test::KeyType::Ecdsa);
  auto version = GENERATE(TLS1_2_VERSION, TLS1_3_VERSION);
  const auto& files = test::test_certificate(key_type);
  auto server_context = core::make_server_context(files.certificate, files.private_key);
  auto client_context = core::make_client_context();
  SSL_CTX_set_max_proto_version(client_context.get(), version);

  auto server = TlsEngine::server(server_context.get());
  auto client = TlsEngine::client(client_context.get(), "localhost");
  REQUIRE(client->start_handshake() == TlsEngine::Status::Ok);
  std::string client_got, server_got;
  REQUIRE(pump(*client, *server, client_got, server_got));
  REQUIRE(server->handshake_done());
  REQUIRE(client->handshake_done());
  CHECK(server->version() == (version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2"));

  REQUIRE(client->send("a LOGIN alice secret\r\n") == TlsEngine::Status::Ok);
  REQUIRE(server->send(std::string(100000, 'x')) == TlsEngine::Status::Ok);
  REQUIRE(pump(*client, *server, client_got, server_got));
  CHECK(server_got == "a LOGIN alice secret\r\n");
  CHECK(client_got == std::string(100000, 'x'));

  client->shutdown();
  std::string ignored;
  CHECK(server->receive(client->take_output(), ignored) == TlsEngine::Status::Closed);
}

TEST_CASE("TLS below 1.2 is refused", "[tls]") {
  const auto& files = test::test_certificate(test::KeyType::Ecdsa);
  auto server_context = core::make_server_context(files.certificate, files.private_key);
  core::SslCtxPtr old_client(SSL_CTX_new(TLS_method()));
  SSL_CTX_set_min_proto_version(old_client.get(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(old_client.get(), TLS1_1_VERSION);
#ifndef OPENSSL_IS_BORINGSSL
  SSL_CTX_set_security_level(old_client.get(), 0);  // let OpenSSL 3 even try TLS 1.1
#endif
  auto server = TlsEngine::server(server_context.get());
  auto client = TlsEngine::client(old_client.get(), "localhost");
  client->start_handshake();
  std::string client_got, server_got;
  pump(*client, *server, client_got, server_got);
  CHECK_FALSE(server->handshake_done());
  CHECK_FALSE(server->last_error().empty());
}

TEST_CASE("Certificate problems are reported with the file name", "[tls]") {
  const auto& rsa = test::test_certificate(test::KeyType::Rsa);
  const auto& ecdsa = test::test_certificate(test::KeyType::Ecdsa);
  CHECK_THROWS_WITH(core::make_server_context("/nonexistent.pem", rsa.private_key),
                    Catch::Contains("/nonexistent.pem"));
  CHECK_THROWS_WITH(core::make_server_context(rsa.certificate, ecdsa.private_key),
                    Catch::Contains(ecdsa.private_key));
}
