// `conduit demo`'s seed: the simulated PLC is an asset with a modbus endpoint where
// scripts/demo-targets.sh runs conduit-demo-plc, and alice holds an approved modbus window
// whose scope lets `ssh -L` and the Modbus inspector show what they do.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "conduit/access/vault_service.hpp"
#include "conduit/app/data_dir.hpp"
#include "conduit/app/demo_seed.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/store/access_repository.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/vault_repository.hpp"
#include "support/temp_dir.hpp"

using namespace conduit;
namespace fs = std::filesystem;

namespace {

/// alice's grants on `asset`.
std::vector<core::Grant> aliceGrants(store::Database& db, const std::string& asset) {
  store::AccessRepository repo(db);
  auto alice = repo.userByName("alice");
  REQUIRE(alice.ok());
  auto a = repo.assetByName(asset);
  REQUIRE(a.ok());
  auto grants = repo.grantsFor(alice->id, a->id);
  REQUIRE(grants.ok());
  return *grants;
}

/// A fresh data directory, its database and the demo seeded into it once (no demo target has
/// run: scripts/demo-targets.sh left no fingerprints).
struct SeededDemo {
  SeededDemo() {
    INFO((accounts ? std::string() : accounts.error().message));
    REQUIRE(accounts.ok());
  }
  test::TempDir tmp;
  const app::DataDirLayout layout{tmp / "data"};
  core::Result<store::Database> db = openAfterInit(layout);
  const core::SystemClock clock;
  core::Result<std::vector<app::DemoAccount>> accounts = seed(db, clock, layout);

 private:
  static core::Result<store::Database> openAfterInit(const app::DataDirLayout& layout) {
    REQUIRE(app::initDataDir(layout.root).ok());
    return store::Database::open(layout.database());
  }
  static core::Result<std::vector<app::DemoAccount>> seed(core::Result<store::Database>& db,
                                                          const core::Clock& clock,
                                                          const app::DataDirLayout& layout) {
    REQUIRE(db.ok());
    return app::seedDemo(*db, clock, layout.root);
  }
};

}  // namespace

TEST_CASE("the demo seeds the simulated PLC as plc-1 with an approved modbus window for alice") {
  SeededDemo w;
  auto& [tmp, layout, db, clock, accounts] = w;

  auto plc = store::AccessRepository(*db).assetByName(app::kDemoPlcAsset);
  REQUIRE(plc.ok());
  CHECK(plc->ownerGroup == "line-3-controls");
  REQUIRE(plc->endpoints.size() == 1);
  CHECK(plc->endpoints[0].protocol == core::Protocol::modbus);
  CHECK(plc->endpoints[0].host == "127.0.0.1");
  CHECK(plc->endpoints[0].port == app::kDemoPlcPort);
  CHECK(app::kDemoPlcPort == 1502);  // scripts/demo-targets.sh starts the PLC on this port

  CHECK(fs::exists(layout.policyDir() / app::kDemoPlcPolicyFile));
  const auto grants = aliceGrants(*db, app::kDemoPlcAsset);
  REQUIRE(grants.size() == 1);
  const core::Grant& g = grants[0];
  CHECK(g.state == core::GrantState::active);
  CHECK(g.covers(core::Protocol::modbus));
  CHECK(g.notBefore <= clock.now());
  CHECK(g.notAfter > clock.now() + core::Seconds{3 * 3600});
  // The demo rule's scope: tunnels allowed, writes in 0-99 held for approval.
  CHECK(g.limits.ssh.portForwarding);
  CHECK_FALSE(g.limits.modbus.readOnly);
  CHECK(g.limits.modbus.writes == core::WriteMode::approve);
  REQUIRE(g.limits.modbus.ranges.size() == 1);
  CHECK(g.limits.modbus.ranges[0] == core::AddressRange{0, 99});
  CHECK(g.limits.mfaRequired);
  CHECK(g.limits.recordingRequired);

  // A second run (`conduit demo` again) adds nothing and prints the same accounts.
  auto again = app::seedDemo(*db, clock, layout.root);
  REQUIRE(again.ok());
  REQUIRE(again->size() == accounts->size());
  CHECK((*again)[0].password == (*accounts)[0].password);
  CHECK(aliceGrants(*db, app::kDemoPlcAsset).size() == 1);
}

TEST_CASE("the demo seeds the workstation ews-1 with an rdp endpoint and an approved rdp window") {
  // No demo target yet (scripts/demo-targets.sh did not run, or had no Xvfb).
  SeededDemo w;
  auto& [tmp, layout, db, clock, accounts] = w;

  store::AccessRepository repo(*db);
  auto ews = repo.assetByName("ews-1");
  REQUIRE(ews.ok());
  CHECK(ews->ownerGroup == "line-3-controls");
  CHECK(ews->criticality == core::Criticality::medium);
  REQUIRE(ews->endpoints.size() == 1);
  const core::Endpoint ep = ews->endpoints[0];
  CHECK(ep.protocol == core::Protocol::rdp);
  CHECK(ep.host == "127.0.0.1");
  CHECK(ep.port == 13389);  // where scripts/demo-targets.sh runs freerdp-shadow-cli
  CHECK(ep.account == "conduit-demo");
  CHECK(ep.pinnedKey.empty());
  CHECK(repo.endpointCredential(ep.id).value().empty());

  const auto grants = aliceGrants(*db, "ews-1");
  REQUIRE(grants.size() == 1);
  const core::Grant& g = grants[0];
  CHECK(g.state == core::GrantState::active);
  CHECK(g.covers(core::Protocol::rdp));
  CHECK_FALSE(g.covers(core::Protocol::ssh));
  CHECK(g.notBefore <= clock.now());
  CHECK(g.notAfter > clock.now() + core::Seconds{3 * 3600});
  // The preset rule vendor-low-medium: recorded, second factor, clipboard but no drives.
  CHECK(g.limits.recordingRequired);
  CHECK(g.limits.mfaRequired);
  CHECK(g.limits.rdp.clipboard());
  CHECK_FALSE(g.limits.rdp.drive);

  // What scripts/demo-targets.sh leaves: the password in the vault, the certificate's SHA-256.
  access::VaultService vault(*db, clock);
  REQUIRE(vault.unsealWithKeyFile(layout.masterKeyFile()).ok());
  const std::string password = "demo-password";
  REQUIRE(vault
              .put({"admin-cli", "cli"}, "ews-1/rdp", "password",
                   {reinterpret_cast<const unsigned char*>(password.data()), password.size()},
                   false, "")
              .ok());
  const std::string fingerprint(64, 'a');
  {
    fs::create_directories(layout.root / "demo-targets");
    std::ofstream out(layout.root / "demo-targets" / "rdp.fingerprint");
    out << "AA:" << fingerprint.substr(2) << "\n";  // any spelling the CLI accepts
  }
  auto again = app::seedDemo(*db, clock, layout.root);
  REQUIRE(again.ok());
  auto reseeded = repo.assetByName("ews-1");
  REQUIRE(reseeded.ok());
  REQUIRE(reseeded->endpoints.size() == 1);
  CHECK(reseeded->endpoints[0].id == ep.id);
  CHECK(reseeded->endpoints[0].pinnedKey == fingerprint);
  CHECK(repo.endpointCredential(ep.id).value() == "ews-1/rdp");
  CHECK(aliceGrants(*db, "ews-1").size() == 1);
}

TEST_CASE("the demo seeds the Linux panel panel-7 whose rdp window has a drive") {
  SeededDemo w;
  auto& [tmp, layout, db, clock, accounts] = w;

  store::AccessRepository repo(*db);
  auto panel = repo.assetByName(app::kDemoPanelAsset);
  REQUIRE(panel.ok());
  REQUIRE(panel->endpoints.size() == 1);
  const core::Endpoint ep = panel->endpoints[0];
  CHECK(ep.protocol == core::Protocol::rdp);
  CHECK(ep.host == "127.0.0.1");
  CHECK(ep.port == 13390);  // where scripts/demo-targets.sh runs xrdp
  CHECK(ep.pinnedKey.empty());
  CHECK(fs::exists(layout.policyDir() / app::kDemoPanelPolicyFile));
  const auto grants = aliceGrants(*db, app::kDemoPanelAsset);
  REQUIRE(grants.size() == 1);
  const core::Grant& g = grants[0];
  CHECK(g.state == core::GrantState::active);
  CHECK(g.covers(core::Protocol::rdp));
  // The demo rule, before the presets: a drive and the clipboard, recorded, second factor.
  CHECK(g.limits.rdp.drive);
  CHECK(g.limits.rdp.clipboardToTarget);
  CHECK(g.limits.rdp.clipboardFromTarget);
  CHECK(g.limits.recordingRequired);
  CHECK(g.limits.mfaRequired);

  // What scripts/demo-targets.sh leaves (as root): the vault secret and the fingerprint.
  access::VaultService vault(*db, clock);
  REQUIRE(vault.unsealWithKeyFile(layout.masterKeyFile()).ok());
  const std::string password = "any";
  REQUIRE(vault
              .put({"admin-cli", "cli"}, "panel-7/rdp", "password",
                   {reinterpret_cast<const unsigned char*>(password.data()), password.size()},
                   false, "")
              .ok());
  const std::string fingerprint(64, 'b');
  {
    fs::create_directories(layout.root / "demo-targets");
    std::ofstream(layout.root / "demo-targets" / "panel.fingerprint") << fingerprint << "\n";
  }
  REQUIRE(app::seedDemo(*db, clock, layout.root).ok());
  auto reseeded = repo.assetByName(app::kDemoPanelAsset);
  REQUIRE(reseeded.ok());
  CHECK(reseeded->endpoints[0].pinnedKey == fingerprint);
  CHECK(repo.endpointCredential(ep.id).value() == "panel-7/rdp");
  CHECK(aliceGrants(*db, app::kDemoPanelAsset).size() == 1);
}
