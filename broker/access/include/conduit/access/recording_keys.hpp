#pragma once

#include <array>
#include <memory>
#include <string>

#include "conduit/core/result.hpp"
#include "conduit/recorder/keys.hpp"
#include "conduit/vault/secret.hpp"

namespace conduit::store {
class Database;
}

namespace conduit::access {

class VaultService;

// Vault secrets holding the broker's recording keys (created by `conduit init`).
inline constexpr const char* kRecordingWrapKeySecret = "recording/stream-wrap-key";
inline constexpr const char* kRecordingSigningSecret = "recording/signing-key";

/// Wraps each recording's stream key with a long-lived 32-byte key kept in the vault
/// (XChaCha20-Poly1305, AAD = the recording's session id), so recordings stay readable across
/// master key rotations (the vault re-wraps this key like any secret).
class VaultStreamKeyWrapper final : public recorder::StreamKeyWrapper {
 public:
  explicit VaultStreamKeyWrapper(vault::SecretBuffer key) : key_(std::move(key)) {}
  core::Result<std::vector<unsigned char>> wrap(
      std::span<const unsigned char, recorder::SecretKey32::kSize> key,
      std::string_view context) override;
  core::Result<recorder::SecretKey32> unwrap(std::span<const unsigned char> wrapped,
                                             std::string_view context) const override;
  std::string keyId() const override { return std::string("vault:") + kRecordingWrapKeySecret; }

 private:
  vault::SecretBuffer key_;
};

/// The broker's recording keys, opened from an unsealed vault.
struct RecordingKeys {
  std::unique_ptr<VaultStreamKeyWrapper> wrapper;
  std::unique_ptr<recorder::Ed25519ManifestSigner> signer;
};

/// Creates both keys in the vault if missing and records the signer's public key (hex) in the
/// installation table. Idempotent.
core::Status ensureRecordingKeys(store::Database& db, VaultService& vault);

/// Opens both keys (the vault must be unsealed).
core::Result<RecordingKeys> openRecordingKeys(VaultService& vault);

/// The trusted manifest signer's public key from the installation table.
core::Result<std::array<unsigned char, 32>> recordingSignerPublicKey(store::Database& db);

}  // namespace conduit::access
