#include "conduit/core/password.hpp"

#include <sodium.h>

#include <algorithm>

namespace conduit::core {

Status checkPasswordRules(std::string_view password) {
  if (password.size() < kMinPasswordLength) {
    return fail(
        ErrorCode::invalid_argument,
        "the password must have at least " + std::to_string(kMinPasswordLength) + " characters");
  }
  if (password.size() > kMaxPasswordLength) {
    return fail(
        ErrorCode::invalid_argument,
        "the password is longer than " + std::to_string(kMaxPasswordLength) + " characters");
  }
  if (std::any_of(password.begin(), password.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    return fail(ErrorCode::invalid_argument, "the password contains control characters");
  }
  return Done{};
}

Result<std::string> hashPassword(std::string_view password) {
  if (auto st = checkPasswordRules(password); !st) return st.error();
  if (sodium_init() < 0) return fail(ErrorCode::internal, "libsodium failed to initialise");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return fail(ErrorCode::unavailable, "out of memory while hashing the password");
  }
  return std::string(out);
}

bool verifyPassword(const std::string& encodedHash, std::string_view password) {
  if (sodium_init() < 0) return false;
  if (encodedHash.size() >= crypto_pwhash_STRBYTES) return false;
  return crypto_pwhash_str_verify(encodedHash.c_str(), password.data(), password.size()) == 0;
}

}  // namespace conduit::core
