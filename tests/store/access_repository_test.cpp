#include <catch2/catch.hpp>

#include "conduit/store/access_repository.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/migrations.hpp"
#include "support/temp_dir.hpp"

using namespace conduit;
using core::ErrorCode;

namespace {

struct Db {
  test::TempDir dir;
  store::Database db = open(dir);
  store::AccessRepository repo{db};
  core::TimePoint now = *core::parseTime("2026-11-26T08:00:00Z");

  static store::Database open(const test::TempDir& d) {
    auto db = store::Database::open(d / "c.db");
    REQUIRE(db.ok());
    REQUIRE(store::migrate(*db).ok());
    return std::move(*db);
  }

  std::int64_t seed() {
    REQUIRE(repo.insertGroup({0, "line-3-controls", "Line 3"}).ok());
    auto vendor = repo.insertVendor({0, "acme", "ops@acme", std::nullopt, false}, now);
    REQUIRE(vendor.ok());
    core::User alice;
    alice.username = "alice";
    alice.vendorId = *vendor;
    alice.roles = {core::Role::vendor};
    REQUIRE(repo.insertUser(alice, "$argon2id$x", now).ok());
    core::User erin;
    erin.username = "erin";
    erin.roles = {core::Role::engineer};
    erin.groups = {"line-3-controls"};
    REQUIRE(repo.insertUser(erin, "", now).ok());
    core::Asset plc;
    plc.name = "plc-17";
    plc.zone = "cell-3";
    plc.criticality = core::Criticality::high;
    plc.ownerGroup = "line-3-controls";
    plc.tags = {"line-3", "siemens"};
    plc.endpoints = {{0, core::Protocol::ssh, "127.0.0.1", 22, "maint", "ssh-ed25519 AAAA"},
                     {0, core::Protocol::modbus, "127.0.0.1", 502, "", ""}};
    auto id = repo.insertAsset(plc, now);
    REQUIRE(id.ok());
    return *id;
  }
};

}  // namespace

TEST_CASE("users, vendors, groups and assets round-trip") {
  Db t;
  t.seed();
  auto alice = t.repo.userByName("alice");
  REQUIRE(alice.ok());
  CHECK(alice->vendorName == "acme");
  CHECK(alice->hasRole(core::Role::vendor));
  auto erin = t.repo.userByName("erin");
  CHECK(erin->inGroup("line-3-controls"));
  auto plc = t.repo.assetByName("plc-17");
  REQUIRE(plc.ok());
  CHECK(plc->criticality == core::Criticality::high);
  CHECK(plc->tags == std::set<std::string>{"line-3", "siemens"});
  REQUIRE(plc->endpoints.size() == 2);
  CHECK(plc->endpointFor(core::Protocol::modbus)->port == 502);
  CHECK(t.repo.credentials(alice->id)->passwordHash == "$argon2id$x");
  CHECK_FALSE(t.repo.credentials(erin->id)->passwordHash.has_value());
}

TEST_CASE("duplicates, unknown names and deleting history are clear errors") {
  Db t;
  t.seed();
  auto dup = t.repo.insertVendor({0, "acme", "", std::nullopt, false}, t.now);
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == ErrorCode::already_exists);
  auto missing = t.repo.assetByName("plc-99");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::not_found);
  core::User bob;
  bob.username = "bob";
  bob.groups = {"no-such-group"};
  auto bad = t.repo.insertUser(bob, "", t.now);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains("no-such-group"));
  auto vendorInUse = t.repo.deleteVendor(t.repo.vendorByName("acme")->id);
  REQUIRE_FALSE(vendorInUse.ok());
  CHECK_THAT(vendorInUse.error().message, Catch::Contains("disable it instead"));
}

TEST_CASE("requests, votes and grants round-trip with their limits") {
  Db t;
  const auto assetId = t.seed();
  core::AccessRequest r;
  r.requesterId = t.repo.userByName("alice")->id;
  r.assetId = assetId;
  r.ownerGroup = "line-3-controls";
  r.protocols = {core::Protocol::ssh, core::Protocol::modbus};
  r.windowStart = t.now;
  r.duration = core::Seconds{3600};
  r.reason = "fix";
  r.createdAt = t.now;
  r.policyRule = "rule-a";
  r.limits.approvals.rules = {{"", 1}, {"safety", 1}};
  r.limits.schedule = core::Schedule{{1, 2, 3}, 360, 1080, "Europe/Berlin"};
  r.limits.modbus.ranges = {{0, 99}};
  r.limits.modbus.writes = core::WriteMode::approve;
  r.limits.ssh.commandDeny = {"rm -rf *"};
  auto id = t.repo.insertRequest(r);
  REQUIRE(id.ok());
  auto loaded = t.repo.request(*id);
  REQUIRE(loaded.ok());
  CHECK(loaded->limits == r.limits);
  CHECK(loaded->protocols == r.protocols);
  CHECK(loaded->requesterName == "alice");
  CHECK(loaded->assetName == "plc-17");

  loaded->votes.push_back(
      {t.repo.userByName("erin")->id, "erin", {"line-3-controls"}, true, "ok", t.now});
  loaded->state = core::RequestState::approved;
  loaded->decidedAt = t.now;
  REQUIRE(t.repo.updateRequest(*loaded).ok());
  REQUIRE(t.repo.updateRequest(*loaded).ok());  // votes are not duplicated
  auto again = t.repo.request(*id);
  CHECK(again->state == core::RequestState::approved);
  REQUIRE(again->votes.size() == 1);
  CHECK(again->votes[0].approverGroups == std::set<std::string>{"line-3-controls"});

  core::Grant g;
  g.requestId = *id;
  g.userId = r.requesterId;
  g.assetId = assetId;
  g.protocols = r.protocols;
  g.notBefore = t.now;
  g.notAfter = t.now + core::Seconds{3600};
  g.limits = r.limits;
  auto gid = t.repo.insertGrant(g);
  REQUIRE(gid.ok());
  auto grants = t.repo.grantsFor(r.requesterId, assetId);
  REQUIRE(grants->size() == 1);
  CHECK(grants->front().limits == r.limits);
  g.id = *gid;
  g.state = core::GrantState::revoked;
  g.stateReason = "done";
  REQUIRE(t.repo.updateGrantState(g).ok());
  CHECK(t.repo.grant(*gid)->state == core::GrantState::revoked);
  auto pending = t.repo.requests({core::RequestState::pending, {}, {}, {}});
  CHECK(pending->empty());
}

TEST_CASE("the audit log chains events and is append-only") {
  Db t;
  store::AuditLog log(t.db);
  for (int i = 0; i < 4; ++i) {
    auto e = log.append({"erin", "cli", "access", "request.approved",
                         "request:" + std::to_string(i), core::AuditOutcome::success, "{}"},
                        t.now + core::Seconds{i});
    REQUIRE(e.ok());
    CHECK(e->seq == i + 1);
  }
  CHECK_FALSE(log.verify()->has_value());
  auto update = t.db.executeTrusted("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2");
  REQUIRE_FALSE(update.ok());
  CHECK_THAT(update.error().message, Catch::Contains("append-only"));
  REQUIRE_FALSE(t.db.executeTrusted("DELETE FROM audit_events WHERE seq = 2").ok());
  auto window = log.list(t.now + core::Seconds{1}, t.now + core::Seconds{3});
  REQUIRE(window->size() == 2);
  CHECK(window->front().seq == 2);
}

TEST_CASE("audit verify finds edited, deleted and reordered rows in the database") {
  Db t;
  store::AuditLog log(t.db);
  for (int i = 0; i < 5; ++i) {
    REQUIRE(log.append({"erin", "cli", "access", "t", "x" + std::to_string(i),
                        core::AuditOutcome::success, "{}"},
                       t.now)
                .ok());
  }
  // An attacker with the database file can drop the triggers; the chain still tells.
  REQUIRE(t.db.executeTrusted("DROP TRIGGER audit_events_no_update; "
                              "DROP TRIGGER audit_events_no_delete;")
              .ok());
  SECTION("edited row") {
    REQUIRE(t.db.executeTrusted("UPDATE audit_events SET outcome = 'failure' WHERE seq = 3").ok());
    auto b = log.verify();
    REQUIRE(b->has_value());
    CHECK((*b)->seq == 3);
  }
  SECTION("deleted row") {
    REQUIRE(t.db.executeTrusted("DELETE FROM audit_events WHERE seq = 2").ok());
    auto b = log.verify();
    REQUIRE(b->has_value());
    CHECK((*b)->seq == 2);
    CHECK_THAT((*b)->why, Catch::Contains("missing"));
  }
  SECTION("reordered rows") {
    REQUIRE(t.db.executeTrusted("UPDATE audit_events SET seq = 100 WHERE seq = 2; "
                                "UPDATE audit_events SET seq = 2 WHERE seq = 4; "
                                "UPDATE audit_events SET seq = 4 WHERE seq = 100;")
                .ok());
    auto b = log.verify();
    REQUIRE(b->has_value());
    CHECK((*b)->seq == 2);
  }
}

TEST_CASE("stored limits keep the clipboard's ways, and older rows read as both ways") {
  core::AccessLimits limits;
  limits.rdp.clipboardToTarget = true;
  const std::string json = store::limitsToJson(limits);
  auto back = store::limitsFromJson(json);
  REQUIRE(back.ok());
  CHECK(back->rdp.clipboardToTarget);
  CHECK_FALSE(back->rdp.clipboardFromTarget);
  // A reader from before the two ways sees "clipboard" off for a one-way grant (fails closed).
  CHECK(json.find("\"clipboard\":false") != std::string::npos);
  // A grant stored before the clipboard had a direction: "clipboard" alone meant both ways.
  std::string old = store::limitsToJson(core::AccessLimits{});
  const auto cut = [&old](const std::string& key) {
    const auto at = old.find(",\"" + key + "\":false");
    REQUIRE(at != std::string::npos);
    old.erase(at, key.size() + 9);
  };
  cut("clipboard_to_target");
  cut("clipboard_from_target");
  const auto clip = old.find("\"clipboard\":false");
  REQUIRE(clip != std::string::npos);
  old.replace(clip, 17, "\"clipboard\":true");
  auto legacy = store::limitsFromJson(old);
  INFO(old);
  REQUIRE(legacy.ok());
  CHECK(legacy->rdp.clipboardToTarget);
  CHECK(legacy->rdp.clipboardFromTarget);
}
