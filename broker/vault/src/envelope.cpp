#include "conduit/vault/envelope.hpp"

#include <sodium.h>

namespace conduit::vault {

using core::ErrorCode;
using core::fail;

namespace {

constexpr std::size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t kKey = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
static_assert(kKey == kMasterKeyBytes);

std::string aad(const char* purpose, const std::string& name, std::uint32_t version) {
  // Length-prefixed name so that ("a|b", 1) and ("a", ...) can never share an AAD.
  return std::string(purpose) + ":" + std::to_string(name.size()) + ":" + name + ":" +
         std::to_string(version);
}

std::vector<unsigned char> encrypt(std::span<const unsigned char> key,
                                   std::span<const unsigned char> plaintext,
                                   const std::string& ad) {
  std::vector<unsigned char> out(1 + kNonce + plaintext.size() + kTag);
  out[0] = kEnvelopeVersion;
  randombytes_buf(out.data() + 1, kNonce);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + 1 + kNonce, &len, plaintext.data(),
                                             plaintext.size(),
                                             reinterpret_cast<const unsigned char*>(ad.data()),
                                             ad.size(), nullptr, out.data() + 1, key.data());
  return out;
}

core::Result<SecretBuffer> decrypt(std::span<const unsigned char> key,
                                   std::span<const unsigned char> envelope, const std::string& ad,
                                   const char* what) {
  if (envelope.size() < 1 + kNonce + kTag) {
    return fail(ErrorCode::corrupt, std::string(what) + " is truncated");
  }
  if (envelope[0] != kEnvelopeVersion) {
    return fail(ErrorCode::corrupt,
                std::string(what) + " has unknown envelope version " + std::to_string(envelope[0]));
  }
  const std::size_t cipherLen = envelope.size() - 1 - kNonce;
  if (cipherLen - kTag > kMaxSecretBytes) {
    return fail(ErrorCode::corrupt, std::string(what) + " is larger than any secret may be");
  }
  SecretBuffer plain = SecretBuffer::allocate(cipherLen - kTag);
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &len, nullptr,
                                                 envelope.data() + 1 + kNonce, cipherLen,
                                                 reinterpret_cast<const unsigned char*>(ad.data()),
                                                 ad.size(), envelope.data() + 1, key.data()) != 0) {
    return fail(ErrorCode::corrupt,
                std::string(what) + " does not authenticate (wrong key, or altered or moved)");
  }
  return plain;
}

}  // namespace

core::Result<SealedSecret> sealSecret(const MasterKey& master, const std::string& name,
                                      std::uint32_t version,
                                      std::span<const unsigned char> plaintext) {
  if (sodium_init() < 0) return fail(ErrorCode::internal, "libsodium failed to initialise");
  if (master.size() != kMasterKeyBytes) return fail(ErrorCode::internal, "bad master key size");
  if (plaintext.size() > kMaxSecretBytes) {
    return fail(ErrorCode::invalid_argument, "a secret may hold at most 1 MiB");
  }
  SecretBuffer dataKey = SecretBuffer::allocate(kKey);
  crypto_aead_xchacha20poly1305_ietf_keygen(dataKey.data());
  SealedSecret s;
  s.ciphertext =
      encrypt({dataKey.data(), dataKey.size()}, plaintext, aad("conduit-secret-v1", name, version));
  s.wrappedKey = encrypt(master.reveal(), {dataKey.data(), dataKey.size()},
                         aad("conduit-data-key-v1", name, version));
  return s;
}

core::Result<SecretBuffer> openSecret(const MasterKey& master, const std::string& name,
                                      std::uint32_t version, const SealedSecret& sealed) {
  if (sodium_init() < 0) return fail(ErrorCode::internal, "libsodium failed to initialise");
  if (master.size() != kMasterKeyBytes) return fail(ErrorCode::internal, "bad master key size");
  auto dataKey = decrypt(master.reveal(), sealed.wrappedKey,
                         aad("conduit-data-key-v1", name, version), "the data key");
  if (!dataKey) return dataKey.error();
  if (dataKey->size() != kKey) return fail(ErrorCode::corrupt, "the data key has a bad size");
  return decrypt({dataKey->data(), dataKey->size()}, sealed.ciphertext,
                 aad("conduit-secret-v1", name, version), "the secret");
}

core::Result<SealedSecret> rewrapSecret(const MasterKey& oldMaster, const MasterKey& newMaster,
                                        const std::string& name, std::uint32_t version,
                                        const SealedSecret& sealed) {
  const std::string ad = aad("conduit-data-key-v1", name, version);
  auto dataKey = decrypt(oldMaster.reveal(), sealed.wrappedKey, ad, "the data key");
  if (!dataKey) return dataKey.error();
  SealedSecret out;
  out.ciphertext = sealed.ciphertext;
  out.wrappedKey = encrypt(newMaster.reveal(), {dataKey->data(), dataKey->size()}, ad);
  return out;
}

std::vector<unsigned char> makeKeyCheck(const MasterKey& master) {
  static constexpr unsigned char kKnown[] = "conduit master key check";
  return encrypt(master.reveal(), kKnown, "conduit-key-check-v1");
}

bool verifyKeyCheck(const MasterKey& master, std::span<const unsigned char> check) {
  if (master.size() != kMasterKeyBytes) return false;
  return decrypt(master.reveal(), check, "conduit-key-check-v1", "key check").ok();
}

}  // namespace conduit::vault
