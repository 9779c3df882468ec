#pragma once

#include <string>
#include <string_view>

#include "conduit/core/result.hpp"

namespace conduit::core {

// 12 characters: NIST SP 800-63B allows 8; OT vendor accounts are high value, so we ask more.
inline constexpr std::size_t kMinPasswordLength = 12;
inline constexpr std::size_t kMaxPasswordLength = 256;

/// Checks length and that the password has no control characters. Fails with invalid_argument.
Status checkPasswordRules(std::string_view password);

/// argon2id hash in libsodium's encoded string form ("$argon2id$v=19$m=...").
/// Cost: libsodium's INTERACTIVE limits (64 MiB, 2 passes), about 0.1 s on this hardware; the
/// login rate limits bound what an attacker can make the broker spend.
Result<std::string> hashPassword(std::string_view password);

/// True if password matches the encoded hash. Constant-time in the password.
bool verifyPassword(const std::string& encodedHash, std::string_view password);

}  // namespace conduit::core
