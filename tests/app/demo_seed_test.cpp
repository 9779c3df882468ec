// `conduit demo`'s seed: the simulated PLC is an asset with a modbus endpoint where
// scripts/demo-targets.sh runs conduit-demo-plc, and alice holds an approved modbus window
// whose scope lets `ssh -L` and the Modbus inspector show what they do.
#include <catch2/catch.hpp>
#include <filesystem>

#include "conduit/app/data_dir.hpp"
#include "conduit/app/demo_seed.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/store/access_repository.hpp"
#include "conduit/store/database.hpp"
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

}  // namespace

TEST_CASE("the demo seeds the simulated PLC as plc-1 with an approved modbus window for alice") {
  test::TempDir tmp;
  const app::DataDirLayout layout{tmp / "data"};
  REQUIRE(app::initDataDir(layout.root).ok());
  auto db = store::Database::open(layout.database());
  REQUIRE(db.ok());
  const core::SystemClock clock;
  auto accounts = app::seedDemo(*db, clock, layout.root);
  INFO((accounts ? std::string() : accounts.error().message));
  REQUIRE(accounts.ok());

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
