#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conduit/core/result.hpp"

namespace conduit::recorder {

/// 32 secret bytes (a stream key or a signing seed) in sodium_malloc'd memory: guard pages,
/// excluded from core dumps, wiped on destruction. Move-only; an allocation failure aborts.
class SecretKey32 {
 public:
  static constexpr std::size_t kSize = 32;
  /// A fresh random key.
  static SecretKey32 generate();
  /// A copy of `bytes` in guarded memory.
  static SecretKey32 copyOf(std::span<const unsigned char, kSize> bytes);

  /// Takes the key; `other` is left empty.
  SecretKey32(SecretKey32&& other) noexcept : data_(std::exchange(other.data_, nullptr)) {}
  SecretKey32& operator=(SecretKey32&& other) noexcept;
  SecretKey32(const SecretKey32&) = delete;
  SecretKey32& operator=(const SecretKey32&) = delete;
  ~SecretKey32();

  /// The key bytes; only the cipher should look at them.
  std::span<const unsigned char, kSize> reveal() const noexcept {
    return std::span<const unsigned char, kSize>(data_, kSize);
  }

 private:
  SecretKey32();
  unsigned char* data_ = nullptr;
};

/// Wraps and unwraps per-recording stream keys. The broker's vault implements this with its
/// master key; SealedBoxKeyWrapper implements it for auditor keys. `context` is the session
/// id: a wrapped key is bound to its recording and cannot be moved to another one.
class StreamKeyWrapper {
 public:
  virtual ~StreamKeyWrapper() = default;
  /// Encrypts `key` for storage in a recording header (at most 512 bytes of output).
  virtual core::Result<std::vector<unsigned char>> wrap(
      std::span<const unsigned char, SecretKey32::kSize> key, std::string_view context) = 0;
  /// Decrypts a wrapped key; fails (permission_denied or corrupt) if this wrapper cannot.
  virtual core::Result<SecretKey32> unwrap(std::span<const unsigned char> wrapped,
                                           std::string_view context) const = 0;
  /// Names the wrapping key (1..128 printable ASCII bytes), stored beside the wrapped key so
  /// a reader picks the right one, e.g. "vault:master-3" or "x25519:0f3c...".
  virtual std::string keyId() const = 0;
};

/// Seals stream keys to an X25519 public key with crypto_box_seal ("encryption to auditors"):
/// anyone may wrap with the public key; only the holder of the secret key unwraps.
class SealedBoxKeyWrapper final : public StreamKeyWrapper {
 public:
  static constexpr std::size_t kPublicKeySize = 32;
  static constexpr std::size_t kSecretKeySize = 32;

  /// A wrapper that can only wrap (the broker holds just the auditor's public key).
  static SealedBoxKeyWrapper forPublicKey(std::span<const unsigned char, kPublicKeySize> pk);
  /// A wrapper that can also unwrap (the auditor's side). The secret key is copied into
  /// guarded memory.
  static SealedBoxKeyWrapper forKeyPair(std::span<const unsigned char, kPublicKeySize> pk,
                                        std::span<const unsigned char, kSecretKeySize> sk);

  /// crypto_box_seal of key || BLAKE2b-256(context) (112 bytes).
  core::Result<std::vector<unsigned char>> wrap(
      std::span<const unsigned char, SecretKey32::kSize> key, std::string_view context) override;
  /// Opens a sealed key: permission_denied without the secret key or if it does not open,
  /// corrupt if it was sealed for another context.
  core::Result<SecretKey32> unwrap(std::span<const unsigned char> wrapped,
                                   std::string_view context) const override;
  /// "x25519:" and the first 16 hex digits of BLAKE2b-256(public key).
  std::string keyId() const override;

 private:
  SealedBoxKeyWrapper() = default;
  std::array<unsigned char, kPublicKeySize> publicKey_{};
  std::optional<SecretKey32> secretKey_;
};

/// A new X25519 key pair for an auditor: {public key, secret key}.
std::pair<std::array<unsigned char, 32>, SecretKey32> generateAuditorKeyPair();

/// Signs manifests. The broker's Ed25519 key lives in the vault; this interface lets the
/// vault sign without handing the key to the recorder.
class ManifestSigner {
 public:
  virtual ~ManifestSigner() = default;
  /// Ed25519 signature of `message`.
  virtual core::Result<std::array<unsigned char, 64>> sign(
      std::span<const unsigned char> message) const = 0;
  /// The public key that verifies the signatures.
  virtual std::array<unsigned char, 32> publicKey() const = 0;
};

/// A ManifestSigner over an Ed25519 key given as libsodium's 32-byte seed, kept in guarded
/// memory.
class Ed25519ManifestSigner final : public ManifestSigner {
 public:
  /// Copies the seed into guarded memory and derives the public key.
  explicit Ed25519ManifestSigner(std::span<const unsigned char, 32> seed);
  /// Signs with the key expanded from the seed for this call only (then wiped).
  core::Result<std::array<unsigned char, 64>> sign(
      std::span<const unsigned char> message) const override;
  /// The Ed25519 public key.
  std::array<unsigned char, 32> publicKey() const override { return publicKey_; }

 private:
  SecretKey32 seed_;
  std::array<unsigned char, 32> publicKey_{};
};

}  // namespace conduit::recorder
