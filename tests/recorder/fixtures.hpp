#pragma once

// Shared helpers for the recorder tests: a stand-in for the vault's key wrapper, a signing key,
// and byte-level access to recording files for tamper tests.

#include <sodium.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "conduit/recorder/keys.hpp"
#include "conduit/recorder/reader.hpp"
#include "conduit/recorder/writer.hpp"

namespace conduit::recorder::testing {

/// What the vault does, in miniature: XChaCha20-Poly1305 under a key-encryption key, with the
/// session id as associated data.
class TestVaultWrapper final : public StreamKeyWrapper {
 public:
  explicit TestVaultWrapper(std::string id = "vault:test") : id_(std::move(id)) {
    if (sodium_init() < 0) std::abort();
    crypto_aead_xchacha20poly1305_ietf_keygen(kek_.data());
  }
  /// A wrapper with a fixed key-encryption key (for files kept in the repository).
  TestVaultWrapper(std::string id, const std::array<unsigned char, 32>& kek)
      : id_(std::move(id)), kek_(kek) {
    if (sodium_init() < 0) std::abort();
  }
  core::Result<std::vector<unsigned char>> wrap(std::span<const unsigned char, 32> key,
                                                std::string_view context) override {
    std::vector<unsigned char> out(24 + 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    randombytes_buf(out.data(), 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        out.data() + 24, nullptr, key.data(), key.size(),
        reinterpret_cast<const unsigned char*>(context.data()), context.size(), nullptr, out.data(),
        kek_.data());
    return out;
  }
  core::Result<SecretKey32> unwrap(std::span<const unsigned char> wrapped,
                                   std::string_view context) const override {
    if (wrapped.size() != 24 + 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES) {
      return core::fail(core::ErrorCode::corrupt, "bad wrapped size");
    }
    std::array<unsigned char, 32> key{};
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            key.data(), nullptr, nullptr, wrapped.data() + 24, wrapped.size() - 24,
            reinterpret_cast<const unsigned char*>(context.data()), context.size(), wrapped.data(),
            kek_.data()) != 0) {
      return core::fail(core::ErrorCode::permission_denied, "vault key does not unwrap");
    }
    auto k = SecretKey32::copyOf(key);
    sodium_memzero(key.data(), key.size());
    return k;
  }
  std::string keyId() const override { return id_; }

 private:
  std::string id_;
  std::array<unsigned char, 32> kek_{};
};

/// A broker signing key for manifests.
struct BrokerKey {
  std::array<unsigned char, 32> seed{};
  std::unique_ptr<Ed25519ManifestSigner> signer;
  BrokerKey() {
    randombytes_buf(seed.data(), seed.size());
    signer = std::make_unique<Ed25519ManifestSigner>(seed);
  }
  std::array<unsigned char, 32> publicKey() const { return signer->publicKey(); }
};

inline std::vector<unsigned char> readBytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void writeBytes(const std::filesystem::path& p, const std::vector<unsigned char>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

/// Where each message (4-byte length + ciphertext) lies in a recording file.
struct MessageSpan {
  std::size_t offset = 0;
  std::size_t size = 0;
};
inline std::size_t u32At(const std::vector<unsigned char>& file, std::size_t at) {
  return static_cast<std::size_t>(file[at]) | (static_cast<std::size_t>(file[at + 1]) << 8) |
         (static_cast<std::size_t>(file[at + 2]) << 16) |
         (static_cast<std::size_t>(file[at + 3]) << 24);
}
/// The messages of a file, in order (segment markers are skipped; see segmentsOf()).
inline std::vector<MessageSpan> messagesOf(const std::vector<unsigned char>& file) {
  std::vector<MessageSpan> out;
  std::size_t pos = u32At(file, 12);
  while (pos + 4 <= file.size()) {
    const std::size_t len = u32At(file, pos);
    if (len == kSegmentMarker) {
      pos += kSegmentMarkerBytes;
      continue;
    }
    out.push_back({pos, 4 + len});
    pos += 4 + len;
  }
  return out;
}
/// Where each segment marker (40 bytes) lies in a recording file.
inline std::vector<MessageSpan> segmentsOf(const std::vector<unsigned char>& file) {
  std::vector<MessageSpan> out;
  std::size_t pos = u32At(file, 12);
  while (pos + 4 <= file.size()) {
    const std::size_t len = u32At(file, pos);
    if (len == kSegmentMarker) {
      out.push_back({pos, kSegmentMarkerBytes});
      pos += kSegmentMarkerBytes;
    } else {
      pos += 4 + len;
    }
  }
  return out;
}

inline std::vector<const StreamKeyWrapper*> keyList(const StreamKeyWrapper& k) {
  return {&k};
}

inline std::vector<unsigned char> randomBytes(std::size_t n) {
  std::vector<unsigned char> v(n);
  randombytes_buf(v.data(), v.size());
  return v;
}

}  // namespace conduit::recorder::testing
