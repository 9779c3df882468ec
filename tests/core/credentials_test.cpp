#include <catch2/catch.hpp>

#include "conduit/core/password.hpp"
#include "conduit/core/totp.hpp"

using namespace conduit::core;

TEST_CASE("argon2id password hashes verify and reject") {
  auto h = hashPassword("correct horse battery");
  REQUIRE(h.ok());
  CHECK_THAT(*h, Catch::StartsWith("$argon2id$"));
  CHECK(verifyPassword(*h, "correct horse battery"));
  CHECK_FALSE(verifyPassword(*h, "correct horse batterY"));
  CHECK_FALSE(verifyPassword("garbage", "correct horse battery"));
  CHECK(*hashPassword("correct horse battery") != *h);  // salted
}

TEST_CASE("password rules") {
  CHECK_FALSE(hashPassword("short").ok());
  CHECK_FALSE(checkPasswordRules("twelve chars\n!").ok());
  CHECK(checkPasswordRules("twelve chars").ok());
}

TEST_CASE("TOTP matches the RFC 6238 SHA-1 test vectors (6 digits)") {
  const std::string ascii = "12345678901234567890";
  const std::vector<unsigned char> seed(ascii.begin(), ascii.end());
  // RFC 6238 appendix B gives 8 digits; the last 6 are the 6-digit code.
  CHECK(totpCode(seed, 59 / 30) == "287082");
  CHECK(totpCode(seed, 1111111109 / 30) == "081804");
  CHECK(totpCode(seed, 1234567890 / 30) == "005924");
  CHECK(totpCode(seed, 2000000000 / 30) == "279037");
}

TEST_CASE("TOTP accepts one step of skew, each code once") {
  const auto seed = newTotpSeed();
  REQUIRE(seed.size() == 20);
  const TimePoint now{std::chrono::seconds(1'800'000'000)};
  const auto step = totpStep(now);
  CHECK(verifyTotp(seed, totpCode(seed, step), now, 0) == step);
  CHECK(verifyTotp(seed, totpCode(seed, step - 1), now, 0) == step - 1);
  CHECK(verifyTotp(seed, totpCode(seed, step + 1), now, 0) == step + 1);
  CHECK_FALSE(verifyTotp(seed, totpCode(seed, step - 2), now, 0).has_value());
  CHECK_FALSE(verifyTotp(seed, totpCode(seed, step), now, step).has_value());  // replay
  CHECK_FALSE(verifyTotp(seed, "12345", now, 0).has_value());
}

TEST_CASE("base32 round trip and otpauth URI") {
  const std::vector<unsigned char> data{'f', 'o', 'o', 'b', 'a', 'r'};
  CHECK(base32Encode(data) == "MZXW6YTBOI");
  CHECK(base32Decode("mzxw6ytboi") == data);
  CHECK_FALSE(base32Decode("MZ1!").has_value());
  CHECK(totpUri("Conduit", "alice smith", data) ==
        "otpauth://totp/Conduit:alice%20smith?secret=MZXW6YTBOI&issuer=Conduit&algorithm=SHA1&"
        "digits=6&period=30");
}

TEST_CASE("time and duration text") {
  const auto t = parseTime("2026-11-26T08:30:00Z");
  REQUIRE(t.has_value());
  CHECK(formatTime(*t) == "2026-11-26T08:30:00Z");
  CHECK(parseTime("2026-11-26") == parseTime("2026-11-26T00:00:00Z"));
  CHECK_FALSE(parseTime("2026-02-30T00:00:00Z").has_value());
  CHECK_FALSE(parseTime("yesterday").has_value());
  CHECK(parseDuration("1h30m") == std::chrono::seconds(5400));
  CHECK(parseDuration("2d") == std::chrono::seconds(172800));
  CHECK_FALSE(parseDuration("90").has_value());
  CHECK_FALSE(parseDuration("0m").has_value());
  CHECK_FALSE(parseDuration("1x").has_value());
  CHECK(formatDuration(std::chrono::seconds(5400)) == "1h30m");
}
