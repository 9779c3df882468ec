#include <catch2/catch.hpp>

#include "conduit/access/access_service.hpp"
#include "conduit/access/admin_service.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/migrations.hpp"
#include "support/temp_dir.hpp"

using namespace conduit;
using namespace std::chrono_literals;
using core::ErrorCode;

namespace {

constexpr const char* kPolicy = R"(
[[rule]]
id = "vendor-ssh"
effect = "allow"
[rule.match]
roles = ["vendor"]
protocols = ["ssh", "modbus"]
criticality = ["low", "medium"]
[rule.limits]
max_duration = "4h"
approvals = 1
mfa = "optional"

[[rule]]
id = "vendor-high"
effect = "allow"
[rule.match]
roles = ["vendor"]
criticality = ["high"]
[rule.limits]
max_duration = "1h"
approvals = [{ group = "line-3-controls", count = 1 }, { group = "safety", count = 1 }]
mfa = "optional"
)";

struct World {
  test::TempDir dir;
  store::Database db = open();
  core::FixedClock clock{*core::parseTime("2026-11-26T08:00:00Z")};
  policies::PolicySet policy = policies::PolicySet::parse(kPolicy, "test.toml").value();
  access::AdminService admin{db, clock};
  access::AccessService service{db, policy, clock};
  access::Actor root{"admin-cli", "cli"};

  store::Database open() {
    auto d = store::Database::open(dir / "c.db");
    REQUIRE(store::migrate(*d).ok());
    return std::move(*d);
  }

  World() {
    REQUIRE(admin.addGroup(root, {0, "line-3-controls", ""}).ok());
    REQUIRE(admin.addGroup(root, {0, "safety", ""}).ok());
    REQUIRE(admin.addVendor(root, {0, "acme", "ops@acme", std::nullopt, false}).ok());
    REQUIRE(admin
                .addUser(root, {"alice",
                                "Alice",
                                "acme",
                                {core::Role::vendor},
                                {},
                                "alice-password-1",
                                std::nullopt})
                .ok());
    REQUIRE(admin
                .addUser(root, {"erin",
                                "Erin",
                                "",
                                {core::Role::engineer},
                                {"line-3-controls"},
                                "erin-password-12",
                                std::nullopt})
                .ok());
    REQUIRE(admin
                .addUser(root, {"sam",
                                "Sam",
                                "",
                                {core::Role::engineer},
                                {"safety"},
                                "sam-password-123",
                                std::nullopt})
                .ok());
    core::Asset plc;
    plc.name = "plc-17";
    plc.ownerGroup = "line-3-controls";
    plc.criticality = core::Criticality::medium;
    plc.endpoints = {{0, core::Protocol::ssh, "127.0.0.1", 22, "maint", ""}};
    REQUIRE(admin.addAsset(root, plc).ok());
    plc.name = "rtu-1";
    plc.criticality = core::Criticality::high;
    REQUIRE(admin.addAsset(root, plc).ok());
  }

  core::RequestDraft draft(core::Seconds d = 2h) {
    return {{core::Protocol::ssh}, clock.now(), d, "firmware update", "CHG-7"};
  }

  bool granted(const std::string& asset) {
    auto c =
        service.checkConnect({"alice", "127.0.0.1"}, "alice", asset, core::Protocol::ssh, true);
    REQUIRE(c.ok());
    return std::holds_alternative<core::AccessGranted>(c->check);
  }

  std::vector<core::AuditEvent> events() { return store::AuditLog(db).list().value(); }
};

}  // namespace

TEST_CASE("request, approve, connect, revoke: the whole flow, audited and verifiable") {
  World w;
  access::Actor alice{"alice", "10.1.1.1"};
  access::Actor erin{"erin", "10.2.2.2"};
  auto req = w.service.requestAccess(alice, "plc-17", w.draft());
  REQUIRE(req.ok());
  CHECK(req->policyRule == "vendor-ssh");
  CHECK_FALSE(w.granted("plc-17"));

  auto vote = w.service.vote(erin, req->id, true, "go ahead");
  REQUIRE(vote.ok());
  REQUIRE(vote->grant.has_value());
  CHECK(w.granted("plc-17"));

  auto revoked = w.service.revoke(erin, vote->grant->id, "work finished");
  REQUIRE(revoked.ok());
  CHECK_FALSE(w.granted("plc-17"));

  const auto events = w.events();
  std::vector<std::string> types;
  for (const auto& e : events) types.push_back(e.draft.type);
  CHECK(std::find(types.begin(), types.end(), "request.created") != types.end());
  CHECK(std::find(types.begin(), types.end(), "request.approved") != types.end());
  CHECK(std::find(types.begin(), types.end(), "grant.created") != types.end());
  CHECK(std::find(types.begin(), types.end(), "grant.revoked") != types.end());
  CHECK(std::find(types.begin(), types.end(), "connect.refused") != types.end());
  const auto& created = *std::find_if(events.begin(), events.end(), [](const auto& e) {
    return e.draft.type == "request.created";
  });
  CHECK(created.draft.source == "10.1.1.1");
  CHECK(created.draft.actor == "alice");
  CHECK_THAT(created.draft.details, Catch::Contains(R"("ticket":"CHG-7")"));
  CHECK_FALSE(store::AuditLog(w.db).verify()->has_value());
}

TEST_CASE("refusals change nothing and are audited as failures") {
  World w;
  auto req = w.service.requestAccess({"alice", "x"}, "plc-17", w.draft());
  REQUIRE(req.ok());
  const auto before = w.events().size();

  SECTION("self-approval") {
    auto r = w.service.vote({"alice", "x"}, req->id, true, "");
    REQUIRE_FALSE(r.ok());
    CHECK(w.service.listRequests({})->front().state == core::RequestState::pending);
    const auto events = w.events();
    REQUIRE(events.size() == before + 1);
    CHECK(events.back().draft.type == "request.approve.refused");
    CHECK(events.back().draft.outcome == core::AuditOutcome::failure);
  }
  SECTION("longer than policy allows") {
    auto r = w.service.requestAccess({"alice", "x"}, "plc-17", w.draft(5h));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("exceeds the 4h"));
    CHECK(w.service.listRequests({})->size() == 1);
  }
  SECTION("unknown request id") {
    auto r = w.service.vote({"erin", "x"}, 999, true, "");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::not_found);
  }
  SECTION("approving twice") {
    REQUIRE(w.service.vote({"erin", "x"}, req->id, true, "").ok());
    auto r = w.service.vote({"erin", "x"}, req->id, true, "");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::conflict);
  }
  CHECK_FALSE(store::AuditLog(w.db).verify()->has_value());
}

TEST_CASE("policy denies what no rule allows, naming the rule") {
  World w;
  core::Asset hmi;
  hmi.name = "hmi-9";
  hmi.ownerGroup = "line-3-controls";
  hmi.criticality = core::Criticality::critical;
  hmi.endpoints = {{0, core::Protocol::ssh, "127.0.0.1", 22, "op", ""}};
  REQUIRE(w.admin.addAsset(w.root, hmi).ok());
  auto r = w.service.requestAccess({"alice", "x"}, "hmi-9", w.draft());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::permission_denied);
  CHECK_THAT(r.error().message, Catch::Contains("default-deny"));
  CHECK(w.events().back().draft.type == "request.refused");
}

TEST_CASE("two-group approval from policy: controls and safety") {
  World w;
  auto req = w.service.requestAccess({"alice", "x"}, "rtu-1", w.draft(1h));
  REQUIRE(req.ok());
  CHECK(req->limits.approvals.total() == 2);
  auto first = w.service.vote({"erin", "x"}, req->id, true, "");
  REQUIRE(first.ok());
  CHECK_FALSE(first->grant.has_value());
  CHECK_FALSE(w.granted("rtu-1"));
  auto second = w.service.vote({"sam", "x"}, req->id, true, "");
  REQUIRE(second.ok());
  CHECK(second->grant.has_value());
  CHECK(w.granted("rtu-1"));
}

TEST_CASE("disabling a user or vendor revokes their grants in the same transaction") {
  World w;
  auto req = w.service.requestAccess({"alice", "x"}, "plc-17", w.draft());
  auto vote = w.service.vote({"erin", "x"}, req->id, true, "");
  REQUIRE(vote->grant.has_value());
  SECTION("user") {
    REQUIRE(w.admin.setUserDisabled(w.root, "alice", true).ok());
    CHECK(w.service.listGrants(std::nullopt)->front().state == core::GrantState::revoked);
    REQUIRE(w.admin.setUserDisabled(w.root, "alice", false).ok());
    CHECK_FALSE(w.granted("plc-17"));  // re-enabling does not bring grants back
  }
  SECTION("vendor") {
    REQUIRE(w.admin.setVendorDisabled(w.root, "acme", true).ok());
    CHECK(w.service.listGrants(std::nullopt)->front().state == core::GrantState::revoked);
    CHECK(w.events().back().draft.type == "vendor.disabled");
  }
}

TEST_CASE("pending requests expire when their window ends undecided") {
  World w;
  auto req = w.service.requestAccess({"alice", "x"}, "plc-17", w.draft(1h));
  REQUIRE(req.ok());
  w.clock.advance(1h - 1s);
  CHECK(w.service.expireStale().value() == 0);
  w.clock.advance(1s);
  CHECK(w.service.expireStale().value() == 1);
  CHECK(w.service.listRequests({})->front().state == core::RequestState::expired);
  CHECK_FALSE(w.service.vote({"erin", "x"}, req->id, true, "").ok());
}

TEST_CASE("kill suspends the grant until an engineer reinstates it") {
  World w;
  auto req = w.service.requestAccess({"alice", "x"}, "plc-17", w.draft());
  auto g = w.service.vote({"erin", "x"}, req->id, true, "")->grant.value();
  REQUIRE(w.service.suspend({"erin", "x"}, g.id, "killed live session").ok());
  CHECK_FALSE(w.granted("plc-17"));
  REQUIRE(w.service.reinstate({"erin", "x"}, g.id, "vendor called, ok").ok());
  CHECK(w.granted("plc-17"));
}

TEST_CASE("an action whose audit event cannot be written does not happen") {
  World w;
  auto req = w.service.requestAccess({"alice", "x"}, "plc-17", w.draft());
  REQUIRE(req.ok());
  // Make every audit insert fail, as a full or broken audit table would.
  REQUIRE(w.db.executeTrusted("CREATE TRIGGER audit_fail BEFORE INSERT ON audit_events "
                              "BEGIN SELECT RAISE(ABORT, 'disk full'); END;")
              .ok());
  auto vote = w.service.vote({"erin", "x"}, req->id, true, "");
  REQUIRE_FALSE(vote.ok());
  CHECK_THAT(vote.error().message, Catch::Contains("audit"));
  CHECK(w.service.listRequests({})->front().state == core::RequestState::pending);
  CHECK(w.service.listGrants(std::nullopt)->empty());
  auto user = w.admin.setUserDisabled(w.root, "alice", true);
  REQUIRE_FALSE(user.ok());
}
