#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "conduit/vault/envelope.hpp"
#include "conduit/vault/master_key.hpp"
#include "support/temp_dir.hpp"

using namespace conduit::vault;
using conduit::core::ErrorCode;

namespace {
std::span<const unsigned char> bytes(const std::string& s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}
std::string text(const SecretBuffer& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
}  // namespace

TEST_CASE("sealed secrets open under the same master key, name and version") {
  const MasterKey master = generateMasterKey();
  auto sealed = sealSecret(master, "asset/plc-17/ssh", 1, bytes("PLC-maint-pw!"));
  REQUIRE(sealed.ok());
  CHECK(sealed->ciphertext.size() == 1 + 24 + 13 + 16);
  auto opened = openSecret(master, "asset/plc-17/ssh", 1, *sealed);
  REQUIRE(opened.ok());
  CHECK(text(*opened) == "PLC-maint-pw!");
  // The plaintext does not appear in what is stored.
  const std::string stored(sealed->ciphertext.begin(), sealed->ciphertext.end());
  CHECK(stored.find("PLC-maint") == std::string::npos);
}

TEST_CASE("tampered envelopes do not open") {
  const MasterKey master = generateMasterKey();
  auto sealed = *sealSecret(master, "s", 3, bytes("value"));
  SECTION("flipped byte in the value") {
    sealed.ciphertext[30] ^= 0x01;
    auto r = openSecret(master, "s", 3, sealed);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::corrupt);
  }
  SECTION("flipped byte in the wrapped key") {
    sealed.wrappedKey[40] ^= 0x80;
    CHECK_FALSE(openSecret(master, "s", 3, sealed).ok());
  }
  SECTION("copied to another secret (AAD binds the name)") {
    CHECK_FALSE(openSecret(master, "t", 3, sealed).ok());
  }
  SECTION("replayed as another version") {
    CHECK_FALSE(openSecret(master, "s", 4, sealed).ok());
  }
  SECTION("wrong master key") {
    auto r = openSecret(generateMasterKey(), "s", 3, sealed);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("does not authenticate"));
  }
  SECTION("truncated") {
    sealed.ciphertext.resize(20);
    auto r = openSecret(master, "s", 3, sealed);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("truncated"));
  }
  SECTION("unknown envelope version") {
    sealed.ciphertext[0] = 9;
    auto r = openSecret(master, "s", 3, sealed);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("unknown envelope version 9"));
  }
}

TEST_CASE("rewrapping moves a secret to a new master key, the old key no longer opens it") {
  const MasterKey oldKey = generateMasterKey();
  const MasterKey newKey = generateMasterKey();
  auto sealed = *sealSecret(oldKey, "s", 1, bytes("v"));
  auto moved = rewrapSecret(oldKey, newKey, "s", 1, sealed);
  REQUIRE(moved.ok());
  CHECK(moved->ciphertext == sealed.ciphertext);
  CHECK(text(*openSecret(newKey, "s", 1, *moved)) == "v");
  CHECK_FALSE(openSecret(oldKey, "s", 1, *moved).ok());
  CHECK_FALSE(rewrapSecret(newKey, oldKey, "s", 1, sealed).ok());  // wrong old key: refused
}

TEST_CASE("the key check tells the right master key from a wrong one") {
  const MasterKey master = generateMasterKey();
  const auto check = makeKeyCheck(master);
  CHECK(verifyKeyCheck(master, check));
  CHECK_FALSE(verifyKeyCheck(generateMasterKey(), check));
}

TEST_CASE("passphrase-derived keys are deterministic per salt") {
  PassphraseKdf kdf = newPassphraseKdf();
  kdf.opsLimit = 1;  // fast for the test; production uses MODERATE
  kdf.memLimit = 8192 * 1024;
  auto a = deriveMasterKey("correct horse", kdf);
  auto b = deriveMasterKey("correct horse", kdf);
  auto c = deriveMasterKey("wrong horse", kdf);
  REQUIRE(a.ok());
  CHECK(std::equal(a->reveal().begin(), a->reveal().end(), b->reveal().begin()));
  CHECK_FALSE(std::equal(a->reveal().begin(), a->reveal().end(), c->reveal().begin()));
  CHECK_FALSE(deriveMasterKey("", kdf).ok());
}

TEST_CASE("a master key file must be private and exactly 32 bytes") {
  conduit::test::TempDir dir;
  const auto path = dir / "master.key";
  conduit::test::writeText(path, std::string(32, 'k'));
  ::chmod(path.c_str(), 0600);
  auto ok = loadMasterKeyFile(path);
  REQUIRE(ok.ok());
  CHECK(ok->size() == 32);
  ::chmod(path.c_str(), 0644);
  auto open = loadMasterKeyFile(path);
  REQUIRE_FALSE(open.ok());
  CHECK(open.error().code == ErrorCode::permission_denied);
  CHECK_THAT(open.error().message, Catch::Contains("0644"));
  ::chmod(path.c_str(), 0600);
  conduit::test::writeText(path, "short");
  CHECK(loadMasterKeyFile(path).error().code == ErrorCode::corrupt);
  CHECK(loadMasterKeyFile(dir / "missing").error().code == ErrorCode::not_found);
}

TEST_CASE("a Secret never prints its value") {
  Password pw = Password::fromText("hunter2-but-longer");
  std::ostringstream out;
  out << "password is " << pw;
  CHECK(out.str() == "password is <secret>");
  CHECK(pw.revealText() == "hunter2-but-longer");
  Password moved = std::move(pw);
  CHECK(moved.revealText() == "hunter2-but-longer");
}
