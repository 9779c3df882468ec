// The decision engine: every match key, first-match order, default deny, MFA, explanations.

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "conduit/policies/policy_set.hpp"

using namespace conduit;
using namespace conduit::policies;
using namespace std::chrono_literals;

namespace {

// Tuesday 10 June 2025, 10:00 UTC.
const core::TimePoint kTuesday = std::chrono::sys_days{2025y / std::chrono::June / 10} + 10h;

core::User vendorUser(std::string name = "alice", std::string org = "acme") {
  core::User u;
  u.username = std::move(name);
  u.vendorName = std::move(org);
  u.roles = {core::Role::vendor};
  return u;
}

core::User engineerUser(std::string name = "erik") {
  core::User u;
  u.username = std::move(name);
  u.roles = {core::Role::engineer};
  u.groups = {"line-2-controls"};
  return u;
}

core::Asset plc(std::string name = "plc-17",
                core::Criticality criticality = core::Criticality::medium) {
  core::Asset a;
  a.name = std::move(name);
  a.site = "hamburg";
  a.zone = "cell-1";
  a.criticality = criticality;
  a.tags = {"line-2", "packaging"};
  a.ownerGroup = "line-2-controls";
  return a;
}

/// One access attempt; contexts hold references, so this owns what they point to.
struct Attempt {
  core::User user = vendorUser();
  core::Asset asset = plc();
  core::Protocol protocol = core::Protocol::ssh;
  core::TimePoint at = kTuesday;
  Action action = Action::request;
  bool mfa = false;

  PolicyContext context() const { return PolicyContext{user, asset, protocol, at, action, mfa}; }
};

PolicySet policy(const std::string& text) {
  auto parsed = PolicySet::parse(text, "test.toml");
  INFO((parsed ? std::string() : parsed.error().message));
  REQUIRE(parsed.ok());
  return std::move(parsed).value();
}

/// A single allow rule "r" with the given [rule.match] body.
PolicySet allowWhen(const std::string& matchBody) {
  return policy("[[rule]]\nid = \"r\"\neffect = \"allow\"\n[rule.match]\n" + matchBody + "\n");
}

/// "allow:ID", "deny:ID" or "need:ID:WHAT".
std::string outcome(const PolicySet& p, const Attempt& a) {
  const Decision d = p.decide(a.context());
  if (std::holds_alternative<Allow>(d)) return "allow:" + std::get<Allow>(d).ruleId;
  if (std::holds_alternative<Deny>(d)) return "deny:" + std::get<Deny>(d).ruleId;
  return "need:" + std::get<NeedMore>(d).ruleId + ":" + std::get<NeedMore>(d).what;
}

/// The trace's reason for the first rule considered.
std::string firstWhy(const PolicySet& p, const Attempt& a) {
  std::vector<TraceLine> trace;
  (void)p.explain(a.context(), trace);
  REQUIRE_FALSE(trace.empty());
  return trace.front().why;
}

}  // namespace

TEST_CASE("match.roles: the user holds any listed role", "[policies][match]") {
  const auto p = allowWhen(R"(roles = ["engineer", "admin"])");
  Attempt a;
  a.user = engineerUser();
  CHECK(outcome(p, a) == "allow:r");
  a.user = vendorUser();
  CHECK(outcome(p, a) == "deny:default-deny");
  CHECK(firstWhy(p, a) == "user 'alice' has none of the roles [engineer, admin]");
}

TEST_CASE("match.vendors: the user's vendor organisation", "[policies][match]") {
  const auto p = allowWhen(R"(vendors = ["acme", "Northwind Controls"])");
  Attempt a;
  CHECK(outcome(p, a) == "allow:r");
  a.user = vendorUser("bob", "Initech");
  CHECK(outcome(p, a) == "deny:default-deny");
  CHECK(firstWhy(p, a) == "vendor 'Initech' not in [Northwind Controls, acme]");
  a.user = engineerUser();  // no vendor at all never matches a vendors list
  CHECK(outcome(p, a) == "deny:default-deny");
  CHECK(firstWhy(p, a) ==
        "user 'erik' belongs to no vendor, rule needs [Northwind Controls, acme]");
}

TEST_CASE("match.users: exact usernames", "[policies][match]") {
  const auto p = allowWhen(R"(users = ["alice"])");
  Attempt a;
  CHECK(outcome(p, a) == "allow:r");
  a.user = vendorUser("alice2");
  CHECK(outcome(p, a) == "deny:default-deny");
  CHECK(firstWhy(p, a) == "user 'alice2' not in [alice]");
}

TEST_CASE("match.assets: glob patterns on the asset name", "[policies][match]") {
  const auto p = allowWhen(R"(assets = ["plc-*", "hmi-?"])");
  Attempt a;
  a.asset = plc("plc-17");
  CHECK(outcome(p, a) == "allow:r");
  a.asset = plc("hmi-4");
  CHECK(outcome(p, a) == "allow:r");
  a.asset = plc("hmi-12");
  CHECK(outcome(p, a) == "deny:default-deny");
  a.asset = plc("rtu-plc-1");
  CHECK(outcome(p, a) == "deny:default-deny");
  CHECK(firstWhy(p, a) == "asset 'rtu-plc-1' matches none of [plc-*, hmi-?]");
}

TEST_CASE("match.sites and match.zones", "[policies][match]") {
  Attempt a;
  const auto bySite = allowWhen(R"(sites = ["hamburg"])");
  CHECK(outcome(bySite, a) == "allow:r");
  a.asset.site = "bremen";
  CHECK(outcome(bySite, a) == "deny:default-deny");
  CHECK(firstWhy(bySite, a) == "site 'bremen' not in [hamburg]");

  const auto byZone = allowWhen(R"(zones = ["cell-1", "cell-2"])");
  CHECK(outcome(byZone, a) == "allow:r");
  a.asset.zone = "dmz";
  CHECK(outcome(byZone, a) == "deny:default-deny");
  CHECK(firstWhy(byZone, a) == "zone 'dmz' not in [cell-1, cell-2]");
}

TEST_CASE("match.criticality", "[policies][match]") {
  const auto p = allowWhen(R"(criticality = ["low", "medium"])");
  Attempt a;
  a.asset.criticality = core::Criticality::low;
  CHECK(outcome(p, a) == "allow:r");
  a.asset.criticality = core::Criticality::high;
  CHECK(outcome(p, a) == "deny:default-deny");
  CHECK(firstWhy(p, a) == "criticality high not in [low, medium]");
}

TEST_CASE("match.tags: the asset has any of them", "[policies][match]") {
  const auto p = allowWhen(R"(tags = ["commissioning", "packaging"])");
  Attempt a;  // tags line-2, packaging
  CHECK(outcome(p, a) == "allow:r");
  a.asset.tags = {"line-2"};
  CHECK(outcome(p, a) == "deny:default-deny");
  CHECK(firstWhy(p, a) == "asset 'plc-17' has none of the tags [commissioning, packaging]");
  a.asset.tags.clear();
  CHECK(outcome(p, a) == "deny:default-deny");
}

TEST_CASE("match.protocols", "[policies][match]") {
  const auto p = allowWhen(R"(protocols = ["ssh", "modbus"])");
  Attempt a;
  CHECK(outcome(p, a) == "allow:r");
  a.protocol = core::Protocol::modbus;
  CHECK(outcome(p, a) == "allow:r");
  a.protocol = core::Protocol::rdp;
  CHECK(outcome(p, a) == "deny:default-deny");
  CHECK(firstWhy(p, a) == "protocol rdp not in [ssh, modbus]");
}

TEST_CASE("match.actions", "[policies][match]") {
  const auto p = allowWhen(R"(actions = ["request"])");
  Attempt a;
  CHECK(outcome(p, a) == "allow:r");
  a.action = Action::connect;
  CHECK(outcome(p, a) == "deny:default-deny");
  CHECK(firstWhy(p, a) == "action connect not in [request]");
}

TEST_CASE("match: absent or empty lists match anything, present keys all must hold",
          "[policies][match]") {
  Attempt a;
  a.user = engineerUser();
  a.protocol = core::Protocol::opcua;
  CHECK(outcome(policy("[[rule]]\nid = \"r\"\neffect = \"allow\"\n"), a) == "allow:r");
  CHECK(outcome(allowWhen("roles = []\nassets = []"), a) == "allow:r");

  const auto both = allowWhen("roles = [\"vendor\"]\ncriticality = [\"low\"]");
  Attempt b;
  b.asset.criticality = core::Criticality::low;
  CHECK(outcome(both, b) == "allow:r");
  b.asset.criticality = core::Criticality::medium;  // the role holds, the criticality does not
  CHECK(outcome(both, b) == "deny:default-deny");
  b.asset.criticality = core::Criticality::low;
  b.user = engineerUser();  // the criticality holds, the role does not
  CHECK(outcome(both, b) == "deny:default-deny");
}

TEST_CASE("the first matching rule decides", "[policies][order]") {
  const std::string denyRule = R"([[rule]]
id = "no-plc-17"
effect = "deny"
reason = "plc-17 is being replaced"
[rule.match]
assets = ["plc-17"]
)";
  const std::string allowRule = R"([[rule]]
id = "vendors"
effect = "allow"
[rule.match]
roles = ["vendor"]
)";
  Attempt a;
  const auto denyFirst = policy(denyRule + allowRule);
  const Decision d = denyFirst.decide(a.context());
  REQUIRE(std::holds_alternative<Deny>(d));
  CHECK(std::get<Deny>(d).ruleId == "no-plc-17");
  CHECK(std::get<Deny>(d).reason == "plc-17 is being replaced");
  a.asset.name = "plc-18";  // the deny rule does not match, so the allow rule answers
  CHECK(outcome(denyFirst, a) == "allow:vendors");

  a.asset.name = "plc-17";
  CHECK(outcome(policy(allowRule + denyRule), a) == "allow:vendors");
}

TEST_CASE("the trace stops at the deciding rule", "[policies][order]") {
  const auto p = policy(R"([[rule]]
id = "engineers"
effect = "allow"
[rule.match]
roles = ["engineer"]

[[rule]]
id = "vendors"
effect = "allow"
[rule.match]
roles = ["vendor"]

[[rule]]
id = "never-reached"
effect = "deny"
)");
  Attempt a;
  std::vector<TraceLine> trace{{"stale", true, "left over from an earlier call"}};
  const Decision d = p.explain(a.context(), trace);
  CHECK(decidingRule(d) == "vendors");
  REQUIRE(trace.size() == 2);
  CHECK(trace[0].ruleId == "engineers");
  CHECK_FALSE(trace[0].matched);
  CHECK(trace[1].ruleId == "vendors");
  CHECK(trace[1].matched);
  CHECK(trace[1].why == "role vendor; allows");
}

TEST_CASE("nothing matched: default deny", "[policies][default-deny]") {
  Attempt a;
  a.asset.criticality = core::Criticality::critical;
  const PolicySet empty;
  const Decision d = empty.decide(a.context());
  REQUIRE(std::holds_alternative<Deny>(d));
  CHECK(std::get<Deny>(d).ruleId == "default-deny");
  CHECK(std::get<Deny>(d).reason ==
        "no rule allows 'alice' (vendor acme) ssh to 'plc-17' (criticality critical, request); "
        "access is denied by default");

  const auto p = allowWhen(R"(criticality = ["low"])");
  std::vector<TraceLine> trace;
  CHECK(decidingRule(p.explain(a.context(), trace)) == "default-deny");
  REQUIRE(trace.size() == 2);
  CHECK(trace[1].ruleId == "default-deny");
  CHECK(trace[1].why == "no rule matched; denies");
}

TEST_CASE("deny reasons fall back to the description, then to the rule id", "[policies]") {
  Attempt a;
  const auto described =
      policy("[[rule]]\nid = \"d\"\neffect = \"deny\"\ndescription = \"line 2 is shut down\"\n");
  CHECK(std::get<Deny>(described.decide(a.context())).reason == "line 2 is shut down");
  const auto bare = policy("[[rule]]\nid = \"d\"\neffect = \"deny\"\n");
  CHECK(std::get<Deny>(bare.decide(a.context())).reason == "denied by rule 'd'");
}

TEST_CASE("MFA: connect without a second factor needs more", "[policies][mfa]") {
  const auto required = allowWhen(R"(roles = ["vendor"])");  // mfa defaults to required
  Attempt a;
  a.action = Action::connect;
  a.mfa = false;
  const Decision d = required.decide(a.context());
  REQUIRE(std::holds_alternative<NeedMore>(d));
  CHECK(std::get<NeedMore>(d).ruleId == "r");
  CHECK(std::get<NeedMore>(d).what == "mfa");

  a.mfa = true;
  CHECK(outcome(required, a) == "allow:r");

  // A request may be filed without the second factor; the grant says MFA is required.
  a.mfa = false;
  a.action = Action::request;
  const Decision requested = required.decide(a.context());
  REQUIRE(std::holds_alternative<Allow>(requested));
  CHECK(std::get<Allow>(requested).limits.mfaRequired);

  const auto optional = policy(R"([[rule]]
id = "r"
effect = "allow"
[rule.limits]
mfa = "optional"
)");
  a.action = Action::connect;
  const Decision relaxed = optional.decide(a.context());
  REQUIRE(std::holds_alternative<Allow>(relaxed));
  CHECK_FALSE(std::get<Allow>(relaxed).limits.mfaRequired);
}

TEST_CASE("MFA is not asked for when a deny rule matches first", "[policies][mfa]") {
  const auto p = policy(R"([[rule]]
id = "closed"
effect = "deny"

[[rule]]
id = "r"
effect = "allow"
)");
  Attempt a;
  a.action = Action::connect;
  CHECK(outcome(p, a) == "deny:closed");
}

TEST_CASE("decide and explain agree", "[policies]") {
  const auto p = policy(R"([[rule]]
id = "quarantine"
effect = "deny"
[rule.match]
tags = ["quarantine"]

[[rule]]
id = "vendors-low"
effect = "allow"
[rule.match]
roles = ["vendor"]
criticality = ["low"]
)");
  for (auto c : {core::Criticality::low, core::Criticality::medium}) {
    for (bool quarantined : {false, true}) {
      Attempt a;
      a.asset.criticality = c;
      if (quarantined) a.asset.tags.insert("quarantine");
      std::vector<TraceLine> trace;
      CHECK(decidingRule(p.decide(a.context())) == decidingRule(p.explain(a.context(), trace)));
    }
  }
}

TEST_CASE("formatExplanation prints the decision and every rule considered", "[policies]") {
  const auto p = policy(R"([[rule]]
id = "engineers"
effect = "allow"
[rule.match]
roles = ["engineer"]

[[rule]]
id = "vendors-low"
effect = "allow"
[rule.match]
roles = ["vendor"]
protocols = ["ssh"]
criticality = ["low", "medium"]
[rule.limits]
max_duration = "2h"
approvals = 1
)");
  Attempt a;
  std::vector<TraceLine> trace;
  const Decision d = p.explain(a.context(), trace);
  REQUIRE(std::holds_alternative<Allow>(d));
  CHECK(std::get<Allow>(d).explanation ==
        "rule 'vendors-low' (test.toml:7) allows 'alice' (vendor acme) ssh to 'plc-17': max 2h, "
        "1 approval from the owner group, recording required, MFA required, sftp off, port "
        "forwarding off");
  CHECK(formatExplanation(d, trace) ==
        "ALLOW by rule 'vendors-low': " + std::get<Allow>(d).explanation +
            "\n"
            "rules considered, in order:\n"
            "  no match  engineers: user 'alice' has none of the roles [engineer]\n"
            "  match     vendors-low: protocol ssh, role vendor, criticality medium; allows\n");

  CHECK(formatExplanation(NeedMore{"vendors-low", "mfa"}, {}) ==
        "NEED MORE by rule 'vendors-low': mfa is required before this can go ahead\n");
  CHECK(formatExplanation(Deny{"default-deny", "nothing matched"}, {}) ==
        "DENY by rule 'default-deny': nothing matched\n");
}

TEST_CASE("actions have stable names", "[policies]") {
  CHECK(actionName(Action::request) == "request");
  CHECK(actionName(Action::connect) == "connect");
  CHECK(parseAction("connect") == Action::connect);
  CHECK_FALSE(parseAction("Connect").has_value());
}
