// Self-signed certificates for in-process TLS tests, made once per test run
// by the openssl command-line tool in a temporary folder.
#pragma once

#include <string>

namespace podgate::test {

struct CertificateFiles {
  std::string certificate;
  std::string private_key;
};

enum class KeyType { Rsa, Ecdsa };

// Cached per key type; throws if the openssl tool fails.
const CertificateFiles& test_certificate(KeyType type);

}  // namespace podgate::test
