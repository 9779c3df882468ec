#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "conduit/core/result.hpp"
#include "conduit/vault/secret.hpp"

namespace conduit::vault {

/// A secret as stored: its value sealed under a fresh data key, the data key wrapped by the
/// master key. Both are XChaCha20-Poly1305 with AAD binding them to the secret's name and
/// version, so a ciphertext copied to another row or version does not open. docs/vault.md
/// gives the byte layout.
struct SealedSecret {
  std::vector<unsigned char> wrappedKey;  // v1: 0x01 || nonce(24) || ciphertext(32+16)
  std::vector<unsigned char> ciphertext;  // v1: 0x01 || nonce(24) || ciphertext(n+16)
};

inline constexpr unsigned char kEnvelopeVersion = 1;
inline constexpr std::size_t kMasterKeyBytes = 32;
// 1 MiB: the largest value the vault holds (passwords, keys, tokens are far smaller); a bound
// keeps a hostile row from making the broker allocate without limit.
inline constexpr std::size_t kMaxSecretBytes = 1024 * 1024;

/// Seals `plaintext` for secret `name` at `version` under `master`.
core::Result<SealedSecret> sealSecret(const MasterKey& master, const std::string& name,
                                      std::uint32_t version,
                                      std::span<const unsigned char> plaintext);

/// Opens a sealed secret. Fails with `corrupt` if anything does not authenticate: a flipped
/// byte, a truncated envelope, the wrong master key, or a row copied from another name/version.
core::Result<SecretBuffer> openSecret(const MasterKey& master, const std::string& name,
                                      std::uint32_t version, const SealedSecret& sealed);

/// Re-wraps the data key under a new master key; the value's ciphertext is unchanged.
core::Result<SealedSecret> rewrapSecret(const MasterKey& oldMaster, const MasterKey& newMaster,
                                        const std::string& name, std::uint32_t version,
                                        const SealedSecret& sealed);

/// A value stored beside the secrets that opens only under the right master key, so that a
/// wrong key or passphrase is reported as such instead of as corrupt secrets.
std::vector<unsigned char> makeKeyCheck(const MasterKey& master);
bool verifyKeyCheck(const MasterKey& master, std::span<const unsigned char> check);

}  // namespace conduit::vault
