// RDP certificate fingerprints as admins paste them and as the broker compares them.
#include <catch2/catch.hpp>

#include <cctype>

#include "conduit/core/asset.hpp"

using conduit::core::normalizeSha256Fingerprint;

TEST_CASE("RDP fingerprints are normalised to 64 lowercase hex digits") {
  const std::string hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  CHECK(normalizeSha256Fingerprint(hex) == hex);
  std::string upperColons;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    if (i) upperColons += ':';
    upperColons += static_cast<char>(std::toupper(hex[i]));
    upperColons += static_cast<char>(std::toupper(hex[i + 1]));
  }
  CHECK(normalizeSha256Fingerprint(upperColons) == hex);
  CHECK(normalizeSha256Fingerprint("sha256:" + hex) == hex);
  CHECK_FALSE(normalizeSha256Fingerprint(hex.substr(0, 40)));  // a SHA-1 is not enough
  CHECK_FALSE(normalizeSha256Fingerprint(hex + "00"));
  CHECK_FALSE(normalizeSha256Fingerprint(hex.substr(0, 63) + "g"));
  CHECK_FALSE(normalizeSha256Fingerprint(""));
}
