#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/clock.hpp"

namespace conduit::core {

// RFC 6238 parameters every authenticator app supports: HMAC-SHA1, 30 s steps, 6 digits.
inline constexpr std::int64_t kTotpStepSeconds = 30;
inline constexpr int kTotpDigits = 6;

/// A fresh random 160-bit TOTP seed (RFC 4226 recommends 160 bits).
std::vector<unsigned char> newTotpSeed();

/// RFC 4648 base32 without padding, as otpauth:// URIs carry seeds.
std::string base32Encode(const std::vector<unsigned char>& data);
std::optional<std::vector<unsigned char>> base32Decode(std::string_view text);

/// The code for a time step (RFC 4226 HOTP with counter = step).
std::string totpCode(const std::vector<unsigned char>& seed, std::int64_t step);

/// The time step that `now` falls in.
std::int64_t totpStep(TimePoint now);

/// Checks a code against the current step and one step either side (clock skew). A code is
/// accepted once: steps at or before `lastUsedStep` are refused. Returns the matched step.
std::optional<std::int64_t> verifyTotp(const std::vector<unsigned char>& seed,
                                       std::string_view code, TimePoint now,
                                       std::int64_t lastUsedStep);

/// otpauth://totp/Conduit:user?secret=...&issuer=Conduit for enrolment QR codes.
std::string totpUri(const std::string& issuer, const std::string& account,
                    const std::vector<unsigned char>& seed);

}  // namespace conduit::core
