#pragma once

// Shared by the sftp and scp observer tests: a string as the bytes an observer is fed, and the
// SHA-256 an observer should report for it (OpenSSL's one-shot digest, not the code under test).
#include <openssl/evp.h>

#include <span>
#include <string>

namespace conduit::test {

inline std::span<const unsigned char> bytes(const std::string& s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

inline std::string sha256(const std::string& data) {
  unsigned char d[32];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), d, &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) {
    hex += kHex[d[i] >> 4];
    hex += kHex[d[i] & 0xf];
  }
  return hex;
}

}  // namespace conduit::test
