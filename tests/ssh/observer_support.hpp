#pragma once

// Shared by the sftp and scp observer tests and bench/file_observer_bench.cpp: SFTP packets
// built to draft-ietf-secsh-filexfer-02, a string as the bytes an observer is fed, and the
// SHA-256 an observer should report for it (OpenSSL's one-shot digest, not the code under test).
#include <openssl/evp.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace conduit::test {

/// An SFTP packet: big-endian integers and length-prefixed strings; wire() adds the length.
struct Packet {
  std::string body;
  Packet& u8(std::uint8_t v) {
    body += static_cast<char>(v);
    return *this;
  }
  Packet& u32(std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) body += static_cast<char>((v >> shift) & 0xff);
    return *this;
  }
  Packet& u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    return u32(static_cast<std::uint32_t>(v));
  }
  Packet& str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    body.append(s);
    return *this;
  }
  std::string wire() const {
    Packet p;
    p.u32(static_cast<std::uint32_t>(body.size()));
    return p.body + body;
  }
};

inline std::span<const unsigned char> bytes(std::string_view s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

inline std::string sha256(std::string_view data) {
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
