#include <catch2/catch.hpp>

#include "core/workflow_fixture.hpp"

using namespace conduit::test;

TEST_CASE("a vendor opens a pending request within policy limits") {
  Plant p;
  auto r = openRequest(p.alice, &p.acme, p.plc, p.draft(), AccessLimits{}, "rule-a", p.t0);
  REQUIRE(r.ok());
  CHECK(r->state == RequestState::pending);
  CHECK(r->windowEnd() == p.t0 + 10min + 2h);
  CHECK(r->ownerGroup == "line-3-controls");
  CHECK(r->policyRule == "rule-a");
}

TEST_CASE("bad requests are refused with the reason") {
  Plant p;
  AccessLimits limits;
  limits.maxDuration = 1h;
  auto check = [&](RequestDraft d, const std::string& needle, ErrorCode code) {
    auto r = openRequest(p.alice, &p.acme, p.plc, d, limits, "rule-a", p.t0);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == code);
    CHECK_THAT(r.error().message, Catch::Contains(needle));
  };
  auto d = p.draft(30min);
  SECTION("longer than policy allows") {
    check(p.draft(2h), "exceeds the 1h that policy rule-a allows", ErrorCode::invalid_argument);
  }
  SECTION("window in the past") {
    d.windowStart = p.t0 - 2min;
    check(d, "starts in the past", ErrorCode::invalid_argument);
  }
  SECTION("no protocol") {
    d.protocols.clear();
    check(d, "at least one protocol", ErrorCode::invalid_argument);
  }
  SECTION("protocol the asset does not serve") {
    d.protocols = {Protocol::rdp};
    check(d, "has no rdp endpoint", ErrorCode::invalid_argument);
  }
  SECTION("no reason") {
    d.reason.clear();
    check(d, "give a reason", ErrorCode::invalid_argument);
  }
  SECTION("control characters in the reason") {
    d.reason = "fix\x1b[2J";
    check(d, "control characters", ErrorCode::invalid_argument);
  }
  SECTION("disabled user") {
    p.alice.disabled = true;
    check(d, "disabled", ErrorCode::permission_denied);
  }
  SECTION("contract ended") {
    p.acme.contractEnd = p.t0 - 24h;
    check(d, "contract of vendor acme has ended", ErrorCode::permission_denied);
  }
}

TEST_CASE("a window starting a few seconds ago is accepted and clipped to now") {
  Plant p;
  auto d = p.draft(1h);
  d.windowStart = p.t0 - 30s;
  auto r = openRequest(p.alice, &p.acme, p.plc, d, AccessLimits{}, "r", p.t0);
  REQUIRE(r.ok());
  CHECK(r->windowStart == p.t0);
  CHECK(r->windowEnd() == p.t0 - 30s + 1h);
}

TEST_CASE("one owner-group approval grants the window") {
  Plant p;
  auto out = castVote(p.pending(), p.erin, true, "ok", p.t0 + 1min);
  REQUIRE(out.ok());
  CHECK(out->request.state == RequestState::approved);
  REQUIRE(out->grant.has_value());
  CHECK(out->grant->notBefore == p.t0 + 10min);
  CHECK(out->grant->notAfter == p.t0 + 10min + 2h);
  CHECK(out->grant->userId == p.alice.id);
}

TEST_CASE("votes that must be refused") {
  Plant p;
  auto req = p.pending();
  SECTION("self-approval") {
    User self = p.alice;
    self.roles.insert(Role::engineer);
    self.groups.insert("line-3-controls");
    auto r = castVote(req, self, true, "", p.t0);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("their own request"));
  }
  SECTION("an auditor") {
    auto r = castVote(req, p.ann, true, "", p.t0);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::permission_denied);
  }
  SECTION("an engineer of another group") {
    auto r = castVote(req, p.olga, true, "", p.t0);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("not in a group"));
  }
  SECTION("voting twice") {
    AccessLimits two;
    two.approvals.rules = {ApprovalRule{"", 2}};
    auto first = castVote(p.pending(two), p.erin, true, "", p.t0);
    REQUIRE(first.ok());
    CHECK(first->request.state == RequestState::pending);
    auto again = castVote(first->request, p.erin, true, "", p.t0);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == ErrorCode::conflict);
  }
  SECTION("approving a cancelled request") {
    auto cancelled = cancelRequest(req, p.alice, p.t0);
    REQUIRE(cancelled.ok());
    auto r = castVote(*cancelled, p.erin, true, "", p.t0);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("is cancelled, not pending"));
  }
  SECTION("a deny without a comment") {
    auto r = castVote(req, p.erin, false, "", p.t0);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::invalid_argument);
  }
  SECTION("after the window ended") {
    auto r = castVote(req, p.erin, true, "", req.windowEnd());
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("expired"));
  }
}

TEST_CASE("N-of-M: two distinct engineers from the owner group") {
  Plant p;
  AccessLimits two;
  two.approvals.rules = {ApprovalRule{"", 2}};
  auto first = castVote(p.pending(two), p.erin, true, "", p.t0);
  REQUIRE(first.ok());
  CHECK(first->request.state == RequestState::pending);
  CHECK_FALSE(first->grant.has_value());
  auto second = castVote(first->request, p.ed, true, "", p.t0);
  REQUIRE(second.ok());
  CHECK(second->request.state == RequestState::approved);
  CHECK(second->grant.has_value());
}

TEST_CASE("N-of-M: one from controls and one from safety, distinct approvers") {
  Plant p;
  AccessLimits limits;
  limits.approvals.rules = {ApprovalRule{"", 1}, ApprovalRule{"safety", 1}};
  auto req = p.pending(limits);
  auto a = castVote(req, p.erin, true, "", p.t0);
  auto b = castVote(a->request, p.ed, true, "", p.t0);  // second controls vote: not enough
  REQUIRE(b.ok());
  CHECK(b->request.state == RequestState::pending);
  auto c = castVote(b->request, p.sam, true, "", p.t0);
  REQUIRE(c.ok());
  CHECK(c->request.state == RequestState::approved);

  SECTION("one person in both groups fills only one slot") {
    User both = p.erin;
    both.groups.insert("safety");
    auto one = castVote(p.pending(limits), both, true, "", p.t0);
    REQUIRE(one.ok());
    CHECK(one->request.state == RequestState::pending);
    auto two = castVote(one->request, p.ed, true, "", p.t0);
    REQUIRE(two.ok());
    CHECK(two->request.state == RequestState::approved);  // both -> safety, ed -> controls
  }
}

TEST_CASE("the first deny ends an N-of-M request") {
  Plant p;
  AccessLimits two;
  two.approvals.rules = {ApprovalRule{"", 2}};
  auto a = castVote(p.pending(two), p.erin, true, "", p.t0);
  auto d = castVote(a->request, p.ed, false, "not this week", p.t0);
  REQUIRE(d.ok());
  CHECK(d->request.state == RequestState::denied);
  CHECK_FALSE(d->grant.has_value());
  auto late = castVote(d->request, p.sam, true, "", p.t0);
  CHECK_FALSE(late.ok());
}

TEST_CASE("cancel: requester or admin, pending only") {
  Plant p;
  auto req = p.pending();
  CHECK_FALSE(cancelRequest(req, p.erin, p.t0).ok());
  CHECK(cancelRequest(req, p.root, p.t0)->state == RequestState::cancelled);
  auto approved = castVote(req, p.erin, true, "", p.t0)->request;
  CHECK_FALSE(cancelRequest(approved, p.alice, p.t0).ok());
}

TEST_CASE("undecided requests expire exactly at window end") {
  Plant p;
  auto req = p.pending();
  CHECK_FALSE(expireIfUndecided(req, req.windowEnd() - 1s).has_value());
  auto expired = expireIfUndecided(req, req.windowEnd());
  REQUIRE(expired.has_value());
  CHECK(expired->state == RequestState::expired);
  auto approved = castVote(req, p.erin, true, "", p.t0)->request;
  CHECK_FALSE(expireIfUndecided(approved, approved.windowEnd() + 1h).has_value());
}

TEST_CASE("checkAccess honours the window at its exact boundaries") {
  Plant p;
  auto grant = *castVote(p.pending(), p.erin, true, "", p.t0)->grant;
  grant.id = 5;
  const std::vector<Grant> grants{grant};
  auto at = [&](TimePoint t, Protocol proto = Protocol::ssh) {
    return checkAccess(p.alice, &p.acme, p.plc, grants, proto, t);
  };
  auto before = at(grant.notBefore - 1s);
  REQUIRE(std::holds_alternative<AccessRefused>(before));
  CHECK_THAT(std::get<AccessRefused>(before).reason, Catch::Contains("opens at"));
  auto start = at(grant.notBefore);
  REQUIRE(std::holds_alternative<AccessGranted>(start));
  CHECK(std::get<AccessGranted>(start).until == grant.notAfter);
  CHECK(std::get<AccessGranted>(start).grantId == 5);
  CHECK(std::holds_alternative<AccessGranted>(at(grant.notAfter - 1s)));
  auto end = at(grant.notAfter);
  REQUIRE(std::holds_alternative<AccessRefused>(end));
  CHECK_THAT(std::get<AccessRefused>(end).reason, Catch::Contains("ended at"));
  auto wrongProtocol = at(grant.notBefore, Protocol::modbus);
  REQUIRE(std::holds_alternative<AccessRefused>(wrongProtocol));
  CHECK_THAT(std::get<AccessRefused>(wrongProtocol).reason, Catch::Contains("does not include"));
  auto otherUser = checkAccess(p.erin, nullptr, p.plc, grants, Protocol::ssh, grant.notBefore);
  CHECK(std::holds_alternative<AccessRefused>(otherUser));
}

TEST_CASE("contract end and user disable cut access under a valid grant") {
  Plant p;
  auto grant = *castVote(p.pending(), p.erin, true, "", p.t0)->grant;
  const std::vector<Grant> grants{grant};
  const TimePoint during = grant.notBefore + 30min;
  REQUIRE(std::holds_alternative<AccessGranted>(
      checkAccess(p.alice, &p.acme, p.plc, grants, Protocol::ssh, during)));
  SECTION("contract ends mid-window") {
    p.acme.contractEnd = during;
    auto r = checkAccess(p.alice, &p.acme, p.plc, grants, Protocol::ssh, during);
    REQUIRE(std::holds_alternative<AccessRefused>(r));
    CHECK_THAT(std::get<AccessRefused>(r).reason, Catch::Contains("contract"));
  }
  SECTION("user disabled") {
    p.alice.disabled = true;
    CHECK(std::holds_alternative<AccessRefused>(
        checkAccess(p.alice, &p.acme, p.plc, grants, Protocol::ssh, during)));
  }
}

TEST_CASE("revoke, suspend and reinstate") {
  Plant p;
  auto grant = *castVote(p.pending(), p.erin, true, "", p.t0)->grant;
  SECTION("revocation needs the owner group or admin and a reason") {
    CHECK_FALSE(revokeGrant(grant, p.olga, p.plc.ownerGroup, "x").ok());
    CHECK_FALSE(revokeGrant(grant, p.alice, p.plc.ownerGroup, "x").ok());
    CHECK_FALSE(revokeGrant(grant, p.erin, p.plc.ownerGroup, "").ok());
    auto revoked = revokeGrant(grant, p.root, p.plc.ownerGroup, "vendor badge lost");
    REQUIRE(revoked.ok());
    CHECK(revoked->state == GrantState::revoked);
    CHECK_FALSE(revokeGrant(*revoked, p.erin, p.plc.ownerGroup, "again").ok());
    auto r = checkAccess(p.alice, &p.acme, p.plc, {*revoked}, Protocol::ssh, grant.notBefore);
    REQUIRE(std::holds_alternative<AccessRefused>(r));
    CHECK_THAT(std::get<AccessRefused>(r).reason, Catch::Contains("vendor badge lost"));
  }
  SECTION("a kill suspends until an engineer reinstates") {
    auto suspended = suspendGrant(grant, "killed by erin");
    REQUIRE(suspended.ok());
    auto r = checkAccess(p.alice, &p.acme, p.plc, {*suspended}, Protocol::ssh, grant.notBefore);
    REQUIRE(std::holds_alternative<AccessRefused>(r));
    CHECK_THAT(std::get<AccessRefused>(r).reason, Catch::Contains("suspended"));
    CHECK_FALSE(reinstateGrant(*suspended, p.olga, p.plc.ownerGroup, "").ok());
    auto back = reinstateGrant(*suspended, p.ed, p.plc.ownerGroup, "talked to vendor");
    REQUIRE(back.ok());
    CHECK(std::holds_alternative<AccessGranted>(
        checkAccess(p.alice, &p.acme, p.plc, {*back}, Protocol::ssh, grant.notBefore)));
    CHECK_FALSE(reinstateGrant(*back, p.ed, p.plc.ownerGroup, "").ok());
  }
}
