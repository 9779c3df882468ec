#include "conduit/access/recording_keys.hpp"

#include <sodium.h>

#include "conduit/access/vault_service.hpp"
#include "conduit/store/database.hpp"

namespace conduit::access {

using core::ErrorCode;
using core::fail;

namespace {

constexpr std::size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;

std::string aad(std::string_view context) {
  return "conduit-recording-key-v1:" + std::string(context);
}

std::string hex(std::span<const unsigned char> b) {
  std::string out(b.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), b.data(), b.size());
  out.pop_back();
  return out;
}

}  // namespace

core::Result<std::vector<unsigned char>> VaultStreamKeyWrapper::wrap(
    std::span<const unsigned char, recorder::SecretKey32::kSize> key, std::string_view context) {
  std::vector<unsigned char> out(kNonce + key.size() + kTag);
  randombytes_buf(out.data(), kNonce);
  const std::string ad = aad(context);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + kNonce, &len, key.data(), key.size(),
                                             reinterpret_cast<const unsigned char*>(ad.data()),
                                             ad.size(), nullptr, out.data(), key_.data());
  return out;
}

core::Result<recorder::SecretKey32> VaultStreamKeyWrapper::unwrap(
    std::span<const unsigned char> wrapped, std::string_view context) const {
  if (wrapped.size() != kNonce + recorder::SecretKey32::kSize + kTag) {
    return fail(ErrorCode::corrupt, "the wrapped recording key has a bad size");
  }
  vault::SecretBuffer plain = vault::SecretBuffer::allocate(recorder::SecretKey32::kSize);
  const std::string ad = aad(context);
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &len, nullptr,
                                                 wrapped.data() + kNonce, wrapped.size() - kNonce,
                                                 reinterpret_cast<const unsigned char*>(ad.data()),
                                                 ad.size(), wrapped.data(), key_.data()) != 0) {
    return fail(ErrorCode::permission_denied,
                "the recording key does not open with this broker's key (or was moved)");
  }
  return recorder::SecretKey32::copyOf(
      std::span<const unsigned char, recorder::SecretKey32::kSize>(plain.data(), 32));
}

core::Status ensureRecordingKeys(store::Database& db, VaultService& vault) {
  auto list = vault.list();
  if (!list) return list.error();
  bool haveWrap = false;
  bool haveSign = false;
  for (const auto& s : *list) {
    haveWrap = haveWrap || s.name == kRecordingWrapKeySecret;
    haveSign = haveSign || s.name == kRecordingSigningSecret;
  }
  const Actor system{"system", "cli"};
  if (!haveWrap) {
    vault::SecretBuffer k = vault::SecretBuffer::allocate(32);
    randombytes_buf(k.data(), k.size());
    auto st = vault.put(system, kRecordingWrapKeySecret, "signing_key", {k.data(), k.size()}, false,
                        "wraps the stream key of every session recording");
    if (!st) return st.error();
  }
  if (!haveSign) {
    vault::SecretBuffer seed = vault::SecretBuffer::allocate(32);
    randombytes_buf(seed.data(), seed.size());
    auto st = vault.put(system, kRecordingSigningSecret, "signing_key", {seed.data(), seed.size()},
                        false, "Ed25519 seed that signs recording manifests");
    if (!st) return st.error();
    const recorder::Ed25519ManifestSigner signer(
        std::span<const unsigned char, 32>(seed.data(), 32));
    const auto pk = signer.publicKey();
    auto ins = db.prepare(
        "INSERT OR REPLACE INTO installation(key, value) "
        "VALUES('recording_signing_public_key', ?1)");
    if (!ins) return ins.error();
    if (auto r = ins->bind(1, hex(pk)).run(); !r) return r;
  }
  return core::Done{};
}

core::Result<RecordingKeys> openRecordingKeys(VaultService& vault) {
  auto wrap = vault.openBrokerKey(kRecordingWrapKeySecret);
  if (!wrap) return wrap.error();
  auto seed = vault.openBrokerKey(kRecordingSigningSecret);
  if (!seed) return seed.error();
  if (wrap->size() != 32 || seed->size() != 32) {
    return fail(ErrorCode::corrupt, "a recording key in the vault has a bad size");
  }
  RecordingKeys keys;
  keys.signer = std::make_unique<recorder::Ed25519ManifestSigner>(
      std::span<const unsigned char, 32>(seed->data(), 32));
  keys.wrapper = std::make_unique<VaultStreamKeyWrapper>(std::move(*wrap));
  return keys;
}

core::Result<std::array<unsigned char, 32>> recordingSignerPublicKey(store::Database& db) {
  auto s = db.prepare("SELECT value FROM installation WHERE key = 'recording_signing_public_key'");
  if (!s) return s.error();
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return fail(ErrorCode::not_found, "no recording signing key; run conduit init");
  const std::string text = s->columnText(0);
  std::array<unsigned char, 32> pk{};
  std::size_t len = 0;
  if (sodium_hex2bin(pk.data(), pk.size(), text.data(), text.size(), nullptr, &len, nullptr) != 0 ||
      len != 32) {
    return fail(ErrorCode::corrupt, "the stored recording signing key is malformed");
  }
  return pk;
}

}  // namespace conduit::access
