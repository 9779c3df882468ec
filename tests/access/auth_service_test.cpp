#include <catch2/catch.hpp>

#include "conduit/access/admin_service.hpp"
#include "conduit/access/auth_service.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/core/totp.hpp"
#include "conduit/store/access_repository.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/migrations.hpp"
#include "support/temp_dir.hpp"

using namespace conduit;
using namespace std::chrono_literals;

namespace {

struct Login {
  test::TempDir dir;
  store::Database db = open();
  core::FixedClock clock{*core::parseTime("2026-11-26T08:00:00Z")};
  access::VaultService vault{db, clock};
  access::AuthService auth{db, vault, clock, access::LockoutPolicy{3, 600s}};

  store::Database open() {
    auto d = store::Database::open(dir / "c.db");
    REQUIRE(store::migrate(*d).ok());
    return std::move(*d);
  }

  Login() {
    const auto key = vault::generateMasterKey();
    REQUIRE(access::VaultService::initialise(db, clock, key, std::nullopt).ok());
    REQUIRE(vault.unsealWithKey(vault::MasterKey::fromBytes(key.reveal())).ok());
    access::AdminService admin(db, clock);
    REQUIRE(admin.addVendor({"root", "cli"}, {0, "acme", "", std::nullopt, false}).ok());
    REQUIRE(
        admin
            .addUser(
                {"root", "cli"},
                {"alice", "", "acme", {core::Role::vendor}, {}, "alice-password-1", std::nullopt})
            .ok());
  }

  std::vector<unsigned char> enrol() {
    auto uri = auth.enrolTotp("root", "alice", "cli");
    REQUIRE(uri.ok());
    const auto p = uri->find("secret=") + 7;
    return *core::base32Decode(uri->substr(p, uri->find('&', p) - p));
  }

  std::string code(const std::vector<unsigned char>& seed) {
    return core::totpCode(seed, core::totpStep(clock.now()));
  }

  std::string lastEvent() { return store::AuditLog(db).list()->back().draft.type; }
};

}  // namespace

TEST_CASE("password and TOTP log in, the same code is refused the second time") {
  Login t;
  auto first = t.auth.login("alice", "alice-password-1", "", "10.0.0.1");
  REQUIRE(first.ok());
  CHECK_FALSE(first->totpEnrolled);  // the portal forces enrolment next
  const auto seed = t.enrol();
  const auto code = t.code(seed);
  auto ok = t.auth.login("alice", "alice-password-1", code, "10.0.0.1");
  REQUIRE(ok.ok());
  CHECK(ok->totpEnrolled);
  CHECK(t.lastEvent() == "login.succeeded");
  auto replay = t.auth.login("alice", "alice-password-1", code, "10.0.0.1");
  REQUIRE_FALSE(replay.ok());
  CHECK(t.lastEvent() == "login.failed");
  t.clock.advance(30s);
  CHECK(t.auth.login("alice", "alice-password-1", t.code(seed), "10.0.0.1").ok());
}

TEST_CASE("the TOTP seed is sealed in the vault, not stored in the users table") {
  Login t;
  t.enrol();
  auto creds = store::AccessRepository(t.db).credentials(1);
  REQUIRE(creds.ok());
  CHECK(creds->totpSeedSealed);
  CHECK(creds->totpSeed.empty());
  CHECK(t.vault.list()->front().kind == "totp_seed");
}

TEST_CASE("failures lock the account, the message never says which part was wrong") {
  Login t;
  const auto seed = t.enrol();
  auto wrongPassword = t.auth.login("alice", "wrong-password-1", t.code(seed), "10.0.0.9");
  auto wrongCode = t.auth.login("alice", "alice-password-1", "000000", "10.0.0.9");
  auto unknownUser = t.auth.login("mallory", "whatever-password", "123456", "10.0.0.9");
  CHECK(wrongPassword.error().message == wrongCode.error().message);
  CHECK(wrongCode.error().message == unknownUser.error().message);
  // Third failure for alice locks her for 10 minutes, even with the right credentials.
  REQUIRE_FALSE(t.auth.login("alice", "nope-nope-nope", "", "10.0.0.9").ok());
  const auto events = store::AuditLog(t.db).list().value();
  CHECK(events.back().draft.type == "account.locked");
  t.clock.advance(30s);
  auto locked = t.auth.login("alice", "alice-password-1", t.code(seed), "10.0.0.9");
  REQUIRE_FALSE(locked.ok());
  CHECK_THAT(locked.error().message, Catch::Contains("locked"));
  t.clock.advance(600s);
  CHECK(t.auth.login("alice", "alice-password-1", t.code(seed), "10.0.0.9").ok());
}

TEST_CASE("disabled users and a sealed vault cannot log in") {
  Login t;
  t.enrol();
  access::VaultService sealedVault(t.db, t.clock);
  access::AuthService sealedAuth(t.db, sealedVault, t.clock);
  auto r = sealedAuth.login("alice", "alice-password-1", "123456", "x");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("sealed"));
  REQUIRE(access::AdminService(t.db, t.clock).setUserDisabled({"root", "cli"}, "alice", true).ok());
  auto d = t.auth.login("alice", "alice-password-1", "", "x");
  REQUIRE_FALSE(d.ok());
  CHECK(t.lastEvent() == "login.refused");
}
