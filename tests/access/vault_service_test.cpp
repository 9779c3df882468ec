#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "conduit/access/vault_service.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/migrations.hpp"
#include "support/temp_dir.hpp"

using namespace conduit;
using core::ErrorCode;

namespace {

std::span<const unsigned char> bytes(const std::string& s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}
std::string text(const vault::SecretBuffer& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

struct Vault {
  test::TempDir dir;
  store::Database db = open();
  core::FixedClock clock{*core::parseTime("2026-11-26T08:00:00Z")};
  access::Actor root{"admin-cli", "cli"};

  store::Database open() {
    auto d = store::Database::open(dir / "c.db");
    REQUIRE(store::migrate(*d).ok());
    return std::move(*d);
  }

  vault::MasterKey keyCopy(const vault::MasterKey& k) {
    return vault::MasterKey::fromBytes(k.reveal());
  }
};

}  // namespace

TEST_CASE("a sealed vault refuses, the right key unseals, a wrong key is named as such") {
  Vault v;
  const auto key = vault::generateMasterKey();
  REQUIRE(access::VaultService::initialise(v.db, v.clock, key, std::nullopt).ok());
  CHECK(access::VaultService::initialise(v.db, v.clock, key, std::nullopt).error().code ==
        ErrorCode::already_exists);
  access::VaultService svc(v.db, v.clock);
  CHECK(svc.sealed());
  auto sealedPut = svc.put(v.root, "x", "password", bytes("value-123"), false, "");
  REQUIRE_FALSE(sealedPut.ok());
  CHECK_THAT(sealedPut.error().message, Catch::Contains("the vault is sealed"));
  auto wrong = svc.unsealWithKey(vault::generateMasterKey());
  REQUIRE_FALSE(wrong.ok());
  CHECK_THAT(wrong.error().message, Catch::Contains("wrong master key"));
  REQUIRE(svc.unsealWithKey(v.keyCopy(key)).ok());
  CHECK_FALSE(svc.sealed());
}

TEST_CASE("put is write-only, checkout is audited, exclusive secrets lease once") {
  Vault v;
  const auto key = vault::generateMasterKey();
  REQUIRE(access::VaultService::initialise(v.db, v.clock, key, std::nullopt).ok());
  access::VaultService svc(v.db, v.clock);
  REQUIRE(svc.unsealWithKey(v.keyCopy(key)).ok());

  auto rec = svc.put(v.root, "asset/plc-17/ssh", "password", bytes("Sup3r-PLC-Passw0rd"), true,
                     "shared maint account");
  REQUIRE(rec.ok());
  CHECK(rec->version == 1);
  CHECK(rec->ciphertext.empty());
  auto again =
      svc.put(v.root, "asset/plc-17/ssh", "password", bytes("Rotated-Passw0rd!"), true, "");
  CHECK(again->version == 2);
  auto list = svc.list();
  REQUIRE(list->size() == 1);
  CHECK(list->front().ciphertext.empty());
  CHECK(list->front().wrappedKey.empty());

  {
    auto lease = svc.checkout({"alice", "10.0.0.5"}, "asset/plc-17/ssh", "session 7");
    REQUIRE(lease.ok());
    CHECK(text(lease->value()) == "Rotated-Passw0rd!");
    auto second = svc.checkout({"bob", "10.0.0.6"}, "asset/plc-17/ssh", "session 8");
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().code == ErrorCode::conflict);
  }
  CHECK(svc.checkout({"bob", "10.0.0.6"}, "asset/plc-17/ssh", "session 8").ok());

  const auto events = store::AuditLog(v.db).list().value();
  int ok = 0, refused = 0;
  for (const auto& e : events) {
    if (e.draft.type != "credential.checkout") continue;
    (e.draft.outcome == core::AuditOutcome::success ? ok : refused)++;
    CHECK(e.draft.details.find("Passw0rd") == std::string::npos);
  }
  CHECK(ok == 2);
  CHECK(refused == 1);
  CHECK_FALSE(svc.checkout(v.root, "nope", "x").ok());
}

TEST_CASE("master key rotation re-wraps every secret, the old key no longer unseals") {
  Vault v;
  const auto oldKey = vault::generateMasterKey();
  REQUIRE(access::VaultService::initialise(v.db, v.clock, oldKey, std::nullopt).ok());
  access::VaultService svc(v.db, v.clock);
  REQUIRE(svc.unsealWithKey(v.keyCopy(oldKey)).ok());
  for (int i = 0; i < 5; ++i) {
    REQUIRE(svc.put(v.root, "s" + std::to_string(i), "api_token",
                    bytes("token-value-" + std::to_string(i)), false, "")
                .ok());
  }
  const auto newKey = vault::generateMasterKey();
  REQUIRE(svc.rotateMasterKey(v.root, v.keyCopy(newKey), std::nullopt).ok());
  for (int i = 0; i < 5; ++i) {
    auto lease = svc.checkout(v.root, "s" + std::to_string(i), "test");
    REQUIRE(lease.ok());
    CHECK(text(lease->value()) == "token-value-" + std::to_string(i));
  }
  access::VaultService fresh(v.db, v.clock);
  CHECK_FALSE(fresh.unsealWithKey(v.keyCopy(oldKey)).ok());
  REQUIRE(fresh.unsealWithKey(v.keyCopy(newKey)).ok());
  CHECK(fresh.checkout(v.root, "s3", "test").ok());
}

TEST_CASE("passphrase-protected vaults unseal with the passphrase only") {
  Vault v;
  auto kdf = vault::newPassphraseKdf();
  kdf.opsLimit = 1;
  kdf.memLimit = 8 * 1024 * 1024;
  auto key = vault::deriveMasterKey("long operator passphrase", kdf);
  REQUIRE(access::VaultService::initialise(v.db, v.clock, *key, kdf).ok());
  access::VaultService svc(v.db, v.clock);
  CHECK(svc.passphraseProtected().value());
  CHECK_FALSE(svc.unsealWithPassphrase("wrong passphrase").ok());
  CHECK(svc.unsealWithPassphrase("long operator passphrase").ok());
}

TEST_CASE("secret values never reach the database file, its WAL or the audit trail in plaintext") {
  Vault v;
  const auto key = vault::generateMasterKey();
  REQUIRE(access::VaultService::initialise(v.db, v.clock, key, std::nullopt).ok());
  access::VaultService svc(v.db, v.clock);
  REQUIRE(svc.unsealWithKey(v.keyCopy(key)).ok());
  const std::string secret = "CanaryPLCPassword-8f3e1c";
  REQUIRE(svc.put(v.root, "canary", "password", bytes(secret), false, "").ok());
  REQUIRE(svc.checkout(v.root, "canary", "scan test").ok());
  for (const char* file : {"c.db", "c.db-wal"}) {
    std::ifstream in(v.dir / file, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    INFO(file);
    CHECK(s.str().size() > 0);
    CHECK(s.str().find(secret) == std::string::npos);
  }
}
