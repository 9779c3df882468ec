#include "conduit/core/totp.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <cctype>

namespace conduit::core {

namespace {
constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
}

std::vector<unsigned char> newTotpSeed() {
  std::vector<unsigned char> seed(20);
  if (sodium_init() < 0) return {};
  randombytes_buf(seed.data(), seed.size());
  return seed;
}

// Hand-written: base32 is 20 lines and no Debian C++ library offers it on its own.
std::string base32Encode(const std::vector<unsigned char>& data) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char byte : data) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += kBase32[(buffer >> (bits - 5)) & 0x1f];
      bits -= 5;
    }
  }
  if (bits > 0) out += kBase32[(buffer << (5 - bits)) & 0x1f];
  return out;
}

std::optional<std::vector<unsigned char>> base32Decode(std::string_view text) {
  std::vector<unsigned char> out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=' || c == ' ') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    const char* p = std::char_traits<char>::find(kBase32, 32, c);
    if (p == nullptr) return std::nullopt;
    buffer = (buffer << 5) | static_cast<unsigned>(p - kBase32);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<unsigned char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

std::string totpCode(const std::vector<unsigned char>& seed, std::int64_t step) {
  unsigned char counter[8];
  auto c = static_cast<std::uint64_t>(step);
  for (int i = 7; i >= 0; --i) {
    counter[i] = static_cast<unsigned char>(c & 0xff);
    c >>= 8;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int macLen = 0;
  HMAC(EVP_sha1(), seed.data(), static_cast<int>(seed.size()), counter, sizeof counter, mac,
       &macLen);
  const unsigned offset = mac[macLen - 1] & 0x0f;
  const std::uint32_t binary = (static_cast<std::uint32_t>(mac[offset] & 0x7f) << 24) |
                               (static_cast<std::uint32_t>(mac[offset + 1]) << 16) |
                               (static_cast<std::uint32_t>(mac[offset + 2]) << 8) |
                               static_cast<std::uint32_t>(mac[offset + 3]);
  std::string code = std::to_string(binary % 1000000U);
  return std::string(static_cast<std::size_t>(kTotpDigits) - code.size(), '0') + code;
}

std::int64_t totpStep(TimePoint now) {
  return now.time_since_epoch().count() / kTotpStepSeconds;
}

std::optional<std::int64_t> verifyTotp(const std::vector<unsigned char>& seed,
                                       std::string_view code, TimePoint now,
                                       std::int64_t lastUsedStep) {
  if (code.size() != static_cast<std::size_t>(kTotpDigits) || seed.empty()) return std::nullopt;
  const std::int64_t current = totpStep(now);
  std::optional<std::int64_t> matched;
  // One step of skew either side; every candidate is compared, in constant time, so timing
  // does not tell which step matched.
  for (std::int64_t step = current - 1; step <= current + 1; ++step) {
    const std::string expected = totpCode(seed, step);
    if (CRYPTO_memcmp(expected.data(), code.data(), expected.size()) == 0 && step > lastUsedStep) {
      matched = step;
    }
  }
  return matched;
}

std::string totpUri(const std::string& issuer, const std::string& account,
                    const std::vector<unsigned char>& seed) {
  auto escape = [](const std::string& s) {
    std::string out;
    for (char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
        out += static_cast<char>(c);
      } else {
        static constexpr char kHex[] = "0123456789ABCDEF";
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
      }
    }
    return out;
  };
  return "otpauth://totp/" + escape(issuer) + ":" + escape(account) +
         "?secret=" + base32Encode(seed) + "&issuer=" + escape(issuer) +
         "&algorithm=SHA1&digits=6&period=30";
}

}  // namespace conduit::core
