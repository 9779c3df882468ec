#include "conduit/recorder/keys.hpp"

#include <sodium.h>

#include <cstdlib>
#include <cstring>

#include "conduit/recorder/manifest.hpp"

namespace conduit::recorder {

namespace {
void ensureSodium() {
  // sodium_init is idempotent and thread-safe; -1 means no usable randomness: stop.
  if (sodium_init() < 0) std::abort();
}

std::array<unsigned char, 32> contextHash(std::string_view context) {
  std::array<unsigned char, 32> h{};
  crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(context.data()),
                     context.size(), nullptr, 0);
  return h;
}

// Guarded scratch memory for intermediate plaintext; wiped and freed on scope exit.
class GuardedScratch {
 public:
  explicit GuardedScratch(std::size_t n) : p_(static_cast<unsigned char*>(sodium_malloc(n))) {
    if (p_ == nullptr) std::abort();
  }
  ~GuardedScratch() { sodium_free(p_); }
  GuardedScratch(const GuardedScratch&) = delete;
  GuardedScratch& operator=(const GuardedScratch&) = delete;
  unsigned char* data() { return p_; }

 private:
  unsigned char* p_;
};
}  // namespace

SecretKey32::SecretKey32() {
  ensureSodium();
  data_ = static_cast<unsigned char*>(sodium_malloc(kSize));
  // A key that cannot be held in guarded memory must not become an unguarded one.
  if (data_ == nullptr) std::abort();
}

SecretKey32::~SecretKey32() {
  sodium_free(data_);  // wipes before freeing; accepts nullptr
}

SecretKey32& SecretKey32::operator=(SecretKey32&& other) noexcept {
  if (this != &other) {
    sodium_free(data_);
    data_ = std::exchange(other.data_, nullptr);
  }
  return *this;
}

SecretKey32 SecretKey32::generate() {
  SecretKey32 k;
  randombytes_buf(k.data_, kSize);
  return k;
}

SecretKey32 SecretKey32::copyOf(std::span<const unsigned char, kSize> bytes) {
  SecretKey32 k;
  std::memcpy(k.data_, bytes.data(), kSize);
  return k;
}

SealedBoxKeyWrapper SealedBoxKeyWrapper::forPublicKey(
    std::span<const unsigned char, kPublicKeySize> pk) {
  ensureSodium();
  SealedBoxKeyWrapper w;
  std::memcpy(w.publicKey_.data(), pk.data(), pk.size());
  return w;
}

SealedBoxKeyWrapper SealedBoxKeyWrapper::forKeyPair(
    std::span<const unsigned char, kPublicKeySize> pk,
    std::span<const unsigned char, kSecretKeySize> sk) {
  auto w = forPublicKey(pk);
  w.secretKey_ = SecretKey32::copyOf(sk);
  return w;
}

// Sealed plaintext: the stream key, then BLAKE2b-256(context), so a wrapped key copied into
// another recording's header does not unwrap there.
core::Result<std::vector<unsigned char>> SealedBoxKeyWrapper::wrap(
    std::span<const unsigned char, SecretKey32::kSize> key, std::string_view context) {
  GuardedScratch plain(64);
  std::memcpy(plain.data(), key.data(), 32);
  const auto h = contextHash(context);
  std::memcpy(plain.data() + 32, h.data(), 32);
  std::vector<unsigned char> out(64 + crypto_box_SEALBYTES);
  if (crypto_box_seal(out.data(), plain.data(), 64, publicKey_.data()) != 0) {
    return core::fail(core::ErrorCode::internal, "crypto_box_seal failed");
  }
  return out;
}

core::Result<SecretKey32> SealedBoxKeyWrapper::unwrap(std::span<const unsigned char> wrapped,
                                                      std::string_view context) const {
  if (!secretKey_) {
    return core::fail(core::ErrorCode::permission_denied,
                      "this auditor key has no secret key to unwrap with");
  }
  if (wrapped.size() != 64 + crypto_box_SEALBYTES) {
    return core::fail(core::ErrorCode::corrupt, "wrapped key has the wrong size");
  }
  GuardedScratch plain(64);
  if (crypto_box_seal_open(plain.data(), wrapped.data(), wrapped.size(), publicKey_.data(),
                           secretKey_->reveal().data()) != 0) {
    return core::fail(core::ErrorCode::permission_denied,
                      "the auditor key does not open this wrapped key");
  }
  const auto h = contextHash(context);
  if (sodium_memcmp(plain.data() + 32, h.data(), 32) != 0) {
    return core::fail(core::ErrorCode::corrupt, "wrapped key belongs to another recording");
  }
  return SecretKey32::copyOf(std::span<const unsigned char, 32>(plain.data(), 32));
}

std::string SealedBoxKeyWrapper::keyId() const {
  std::array<unsigned char, 32> h{};
  crypto_generichash(h.data(), h.size(), publicKey_.data(), publicKey_.size(), nullptr, 0);
  return "x25519:" + toHex(std::span<const unsigned char>(h.data(), 8));
}

std::pair<std::array<unsigned char, 32>, SecretKey32> generateAuditorKeyPair() {
  ensureSodium();
  std::array<unsigned char, 32> pk{};
  auto sk = SecretKey32::generate();
  // The secret key is random bytes; derive its public key (X25519 clamps when it uses it).
  crypto_scalarmult_base(pk.data(), sk.reveal().data());
  return {pk, std::move(sk)};
}

Ed25519ManifestSigner::Ed25519ManifestSigner(std::span<const unsigned char, 32> seed)
    : seed_(SecretKey32::copyOf(seed)) {
  GuardedScratch sk(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(publicKey_.data(), sk.data(), seed_.reveal().data());
}

core::Result<std::array<unsigned char, 64>> Ed25519ManifestSigner::sign(
    std::span<const unsigned char> message) const {
  GuardedScratch sk(crypto_sign_SECRETKEYBYTES);
  std::array<unsigned char, 32> pk{};
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed_.reveal().data());
  std::array<unsigned char, 64> sig{};
  if (crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), sk.data()) != 0) {
    return core::fail(core::ErrorCode::internal, "Ed25519 signing failed");
  }
  return sig;
}

}  // namespace conduit::recorder
