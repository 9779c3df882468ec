#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "conduit/notify/notification.hpp"

using namespace conduit;
using notify::EventFacts;
using notify::notificationFor;

namespace {

core::TimePoint at(const char* text) {
  return *core::parseTime(text);
}

/// A pending request by alice (vendor acme) for plc-17, owned by line-3-controls.
EventFacts requestFacts() {
  EventFacts f;
  core::AccessRequest r;
  r.id = 7;
  r.requesterId = 3;
  r.requesterName = "alice";
  r.assetId = 2;
  r.assetName = "plc-17";
  r.ownerGroup = "line-3-controls";
  r.protocols = {core::Protocol::ssh, core::Protocol::modbus};
  r.windowStart = at("2026-11-26T09:00:00Z");
  r.duration = core::Seconds{7200};
  r.reason = "firmware update";
  r.ticket = "CHG-7";
  r.limits.approvals.rules = {{"", 2}};
  f.request = r;
  core::Asset a;
  a.id = 2;
  a.name = "plc-17";
  a.site = "north";
  a.zone = "cell-3";
  a.criticality = core::Criticality::high;
  a.ownerGroup = "line-3-controls";
  // Where and as whom the broker connects: never part of a notification.
  a.endpoints = {{1, core::Protocol::ssh, "10.20.30.40", 22, "maint-secret-account", ""}};
  f.asset = a;
  core::User u;
  u.id = 3;
  u.username = "alice";
  u.displayName = "Alice Example";
  u.vendorId = 1;
  u.vendorName = "acme";
  u.roles = {core::Role::vendor};
  f.requester = u;
  return f;
}

core::AuditEvent event(std::string type, std::string target, std::string details,
                       std::string actor = "erin",
                       core::AuditOutcome outcome = core::AuditOutcome::success) {
  core::AuditEvent e;
  e.seq = 42;
  e.time = at("2026-11-26T08:30:00Z");
  e.draft = {std::move(actor),  "10.2.2.2", "access",          std::move(type),
             std::move(target), outcome,    std::move(details)};
  e.prevHash = core::genesisHash();
  e.hash = std::string(64, 'a');
  return e;
}

boost::json::object parse(const notify::Notification& n) {
  return boost::json::parse(n.body).as_object();
}

std::string str(const boost::json::object& o, const char* key) {
  return std::string(o.at(key).as_string());
}

}  // namespace

TEST_CASE(
    "notify: request.created becomes request.pending for the owner group, with who, what, when") {
  const auto facts = requestFacts();
  auto n = notificationFor(event("request.created", "request:7", R"({"asset":"plc-17"})", "alice"),
                           facts);
  REQUIRE(n.has_value());
  CHECK(n->event == "request.pending");
  const auto o = parse(*n);
  CHECK(str(o, "event") == "request.pending");
  CHECK(o.at("audit_seq").as_int64() == 42);
  CHECK(str(o, "time") == "2026-11-26T08:30:00Z");
  CHECK(o.at("request_id").as_int64() == 7);
  CHECK(str(o, "asset") == "plc-17");
  CHECK(str(o, "site") == "north");
  CHECK(str(o, "criticality") == "high");
  CHECK(str(o, "owner_group") == "line-3-controls");
  CHECK(str(o, "requester") == "alice");
  CHECK(str(o, "requester_name") == "Alice Example");
  CHECK(str(o, "vendor") == "acme");
  CHECK(str(o, "window_start") == "2026-11-26T09:00:00Z");
  CHECK(str(o, "window_end") == "2026-11-26T11:00:00Z");
  CHECK(str(o, "reason") == "firmware update");
  CHECK(str(o, "ticket") == "CHG-7");
  CHECK(o.at("approvals_required").as_int64() == 2);
  REQUIRE(o.at("protocols").as_array().size() == 2);
  CHECK(o.at("protocols").as_array()[0].as_string() == "ssh");
  // Never where or as whom the broker connects.
  CHECK_THAT(n->body, !Catch::Contains("10.20.30.40") && !Catch::Contains("maint-secret"));
}

TEST_CASE("notify: a deciding vote becomes request.decided with the decision and the comment") {
  auto facts = requestFacts();
  SECTION("approved, naming the grant") {
    facts.request->state = core::RequestState::approved;
    core::Grant g;
    g.id = 11;
    g.requestId = 7;
    facts.grant = g;
    auto n = notificationFor(
        event("request.approved", "request:7", R"({"comment":"go ahead","state":"approved"})"),
        facts);
    REQUIRE(n.has_value());
    CHECK(n->event == "request.decided");
    const auto o = parse(*n);
    CHECK(str(o, "decision") == "approved");
    CHECK(str(o, "comment") == "go ahead");
    CHECK(str(o, "decided_by") == "erin");
    CHECK(str(o, "requester") == "alice");
    CHECK(o.at("grant_id").as_int64() == 11);
    CHECK(o.at("request_id").as_int64() == 7);
  }
  SECTION("denied") {
    auto n = notificationFor(
        event("request.denied", "request:7", R"({"comment":"not today","state":"denied"})"), facts);
    REQUIRE(n.has_value());
    const auto o = parse(*n);
    CHECK(str(o, "decision") == "denied");
    CHECK(str(o, "comment") == "not today");
    CHECK_FALSE(o.contains("grant_id"));
  }
  SECTION("the decision is the one recorded with the vote, not the request's state now") {
    facts.request->state = core::RequestState::cancelled;
    auto n = notificationFor(
        event("request.approved", "request:7", R"({"comment":"","state":"approved"})"), facts);
    REQUIRE(n.has_value());
    CHECK(str(parse(*n), "decision") == "approved");
  }
}

TEST_CASE("notify: an approval that leaves the request pending notifies nobody") {
  auto n = notificationFor(
      event("request.approved", "request:7", R"({"comment":"ok","state":"pending"})"),
      requestFacts());
  CHECK_FALSE(n.has_value());
}

TEST_CASE("notify: grant.revoked names the grant, its window, who revoked it and why") {
  auto facts = requestFacts();
  core::Grant g;
  g.id = 11;
  g.requestId = 7;
  g.userId = 3;
  g.assetId = 2;
  g.protocols = {core::Protocol::ssh};
  g.notBefore = at("2026-11-26T09:00:00Z");
  g.notAfter = at("2026-11-26T10:00:00Z");
  g.state = core::GrantState::revoked;
  facts.grant = g;
  auto n =
      notificationFor(event("grant.revoked", "grant:11",
                            R"({"asset":"plc-17","state":"revoked","reason":"work finished"})"),
                      facts);
  REQUIRE(n.has_value());
  CHECK(n->event == "grant.revoked");
  const auto o = parse(*n);
  CHECK(o.at("grant_id").as_int64() == 11);
  CHECK(o.at("request_id").as_int64() == 7);
  CHECK(str(o, "reason") == "work finished");
  CHECK(str(o, "revoked_by") == "erin");
  CHECK(str(o, "window_end") == "2026-11-26T10:00:00Z");
  CHECK(str(o, "owner_group") == "line-3-controls");
  CHECK(str(o, "requester") == "alice");
  CHECK(str(o, "vendor") == "acme");
}

TEST_CASE("notify: a window about to end becomes window.ending with the minutes left") {
  auto facts = requestFacts();
  core::Grant g;
  g.id = 11;
  g.requestId = 7;
  g.notBefore = at("2026-11-26T09:00:00Z");
  g.notAfter = at("2026-11-26T10:00:00Z");
  g.protocols = {core::Protocol::ssh};
  facts.grant = g;
  auto n = notify::windowEndingNotification(facts, at("2026-11-26T09:50:30Z"));
  REQUIRE(n.has_value());
  CHECK(n->event == "window.ending");
  const auto o = parse(*n);
  CHECK(o.at("minutes_left").as_int64() == 10);  // 9.5 minutes, rounded up
  CHECK(o.at("grant_id").as_int64() == 11);
  CHECK(str(o, "window_end") == "2026-11-26T10:00:00Z");
  CHECK(str(o, "requester") == "alice");
  CHECK(str(o, "owner_group") == "line-3-controls");
  facts.grant.reset();
  CHECK_FALSE(notify::windowEndingNotification(facts, at("2026-11-26T09:50:30Z")).has_value());
}

TEST_CASE("notify: other events, failures and events without their facts notify nobody") {
  const auto facts = requestFacts();
  for (const char* type :
       {"grant.created", "grant.suspended", "grant.reinstated", "session.started", "session.ended",
        "request.cancelled", "request.expired", "login.failed", "notify.failed"}) {
    CAPTURE(type);
    CHECK_FALSE(notificationFor(event(type, "request:7", "{}"), facts).has_value());
  }
  CHECK_FALSE(notificationFor(event("request.approve.refused", "request:7", "{}", "alice",
                                    core::AuditOutcome::failure),
                              facts)
                  .has_value());
  CHECK_FALSE(notificationFor(event("request.created", "asset:plc-17", "{}"), facts).has_value());
  CHECK_FALSE(notificationFor(event("request.created", "request:7", "{}"), EventFacts{}));
  CHECK_FALSE(notificationFor(event("grant.revoked", "grant:11", "{}"), facts).has_value());
}

TEST_CASE("notify: the subject of a notifiable event is parsed from its target") {
  auto s = notify::notifiableSubject(event("grant.revoked", "grant:11", "{}"));
  REQUIRE(s.has_value());
  CHECK(s->kind == notify::EventSubject::Kind::grant);
  CHECK(s->id == 11);
  s = notify::notifiableSubject(event("request.denied", "request:7", "{}"));
  REQUIRE(s.has_value());
  CHECK(s->kind == notify::EventSubject::Kind::request);
  CHECK(s->id == 7);
  CHECK_FALSE(notify::notifiableSubject(event("request.created", "request:7x", "{}")));
  CHECK_FALSE(notify::notifiableSubject(event("request.created", "request:-1", "{}")));
  CHECK_FALSE(notify::notifiableSubject(event("grant.created", "grant:11", "{}")));
}

TEST_CASE("notify: the notification event names are exactly the documented four") {
  for (const char* name :
       {"request.pending", "request.decided", "grant.revoked", "window.ending"}) {
    CHECK(notify::isNotificationEvent(name));
  }
  CHECK_FALSE(notify::isNotificationEvent("request.created"));
  CHECK_FALSE(notify::isNotificationEvent(""));
}
