#include "tests/unit/certificates_fixture.h"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <stdexcept>

namespace podgate::test {

namespace {

std::string make_folder() {
  std::string pattern = (std::filesystem::temp_directory_path() / "podgate-unit-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

CertificateFiles generate(KeyType type) {
  static const std::string folder = make_folder();
  std::string name = type == KeyType::Rsa ? "rsa" : "ecdsa";
  CertificateFiles files{folder + "/" + name + ".crt", folder + "/" + name + ".key"};
  std::string key_option =
      type == KeyType::Rsa ? "-newkey rsa:2048" : "-newkey ec -pkeyopt ec_paramgen_curve:P-256";
  std::string command = std::string(PODGATE_OPENSSL_TOOL) + " req -x509 -nodes -days 2 " +
                        key_option + " -subj /CN=localhost -keyout " + files.private_key +
                        " -out " + files.certificate + " 2>/dev/null";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("openssl failed: " + command);
  return files;
}

}  // namespace

const CertificateFiles& test_certificate(KeyType type) {
  static std::map<KeyType, CertificateFiles> cache;
  auto found = cache.find(type);
  if (found == cache.end()) found = cache.emplace(type, generate(type)).first;
  return found->second;
}

}  // namespace podgate::test
