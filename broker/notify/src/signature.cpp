#include "conduit/notify/signature.hpp"

#include <sodium.h>
#include <array>

namespace conduit::notify {

namespace {

std::string hex(const unsigned char* data, std::size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, size);
  out.pop_back();
  return out;
}

}  // namespace

std::string hmacSha256Hex(std::span<const unsigned char> key, std::string_view message) {
  crypto_auth_hmacsha256_state state;
  std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
  crypto_auth_hmacsha256_init(&state, key.data(), key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(message.data()),
                                message.size());
  crypto_auth_hmacsha256_final(&state, mac.data());
  // The state holds key-derived pads.
  sodium_memzero(&state, sizeof state);
  return hex(mac.data(), mac.size());
}

std::string signatureHeader(std::span<const unsigned char> secret, std::string_view timestamp,
                            std::string_view body) {
  std::string signed_text;
  signed_text.reserve(timestamp.size() + 1 + body.size());
  signed_text.append(timestamp).append(".").append(body);
  return "sha256=" + hmacSha256Hex(secret, signed_text);
}

std::string deliveryId(std::string_view key, std::string_view webhook) {
  // Length-prefixed so that no two (key, webhook) pairs hash the same text.
  const std::string text = "conduit-delivery-v1;" + std::to_string(key.size()) + ":" +
                           std::string(key) + ";" + std::to_string(webhook.size()) + ":" +
                           std::string(webhook) + ";";
  std::array<unsigned char, 16> digest{};
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const unsigned char*>(text.data()), text.size(), nullptr, 0);
  return hex(digest.data(), digest.size());
}

}  // namespace conduit::notify
