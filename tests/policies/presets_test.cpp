// The shipped presets (policies/presets/*.toml) load and decide realistic cases as documented.

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "conduit/policies/policy_set.hpp"

using namespace conduit;
using namespace conduit::policies;
using namespace std::chrono_literals;
using std::chrono::sys_days;

namespace {

std::filesystem::path preset(const std::string& name) {
  return std::filesystem::path(CONDUIT_SOURCE_DIR) / "policies" / "presets" / name;
}

PolicySet load(const std::vector<std::string>& names) {
  std::vector<std::filesystem::path> files;
  for (const auto& n : names) files.push_back(preset(n));
  auto loaded = PolicySet::load(files);
  INFO((loaded ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  return std::move(loaded).value();
}

// Tuesday 10 June 2025, 10:00 in Berlin (CEST): plant day shift.
const core::TimePoint kTuesdayMorning = sys_days{2025y / std::chrono::June / 10} + 8h;
// Saturday 14 June 2025, 10:00 in Berlin.
const core::TimePoint kSaturday = sys_days{2025y / std::chrono::June / 14} + 8h;
// Tuesday 10 June 2025, 19:00 in Berlin: after the day shift.
const core::TimePoint kTuesdayEvening = sys_days{2025y / std::chrono::June / 10} + 17h;

core::User vendor() {
  core::User u;
  u.username = "k.weber";
  u.vendorName = "Rotor Services GmbH";
  u.roles = {core::Role::vendor};
  return u;
}

core::User engineer() {
  core::User u;
  u.username = "m.fischer";
  u.roles = {core::Role::engineer};
  u.groups = {"utilities-controls", "safety"};
  return u;
}

core::User auditor() {
  core::User u;
  u.username = "a.kraus";
  u.roles = {core::Role::auditor};
  return u;
}

core::Asset asset(std::string name, core::Criticality c, std::set<std::string> tags = {}) {
  core::Asset a;
  a.name = std::move(name);
  a.site = "duisburg";
  a.zone = "utilities";
  a.criticality = c;
  a.tags = std::move(tags);
  a.ownerGroup = "utilities-controls";
  return a;
}

Decision decide(const PolicySet& p, const core::User& u, const core::Asset& a, core::Protocol pr,
                core::TimePoint at = kTuesdayMorning, Action action = Action::request,
                bool mfa = false) {
  return p.decide(PolicyContext{u, a, pr, at, action, mfa});
}

Allow allowed(const Decision& d) {
  INFO(formatExplanation(d, {}));
  REQUIRE(std::holds_alternative<Allow>(d));
  return std::get<Allow>(d);
}

Deny denied(const Decision& d) {
  INFO(formatExplanation(d, {}));
  REQUIRE(std::holds_alternative<Deny>(d));
  return std::get<Deny>(d);
}

using core::Criticality;
using core::Protocol;

}  // namespace

TEST_CASE("preset default.toml", "[policies][presets]") {
  const auto p = load({"default.toml"});
  CHECK(p.size() == 4);

  SECTION("vendors reach medium assets with one owner-group approval for 4h, recorded") {
    const auto& a =
        allowed(decide(p, vendor(), asset("hmi-boiler-2", Criticality::medium), Protocol::ssh));
    CHECK(a.ruleId == "vendor-low-medium");
    CHECK(a.limits.approvals.rules == std::vector<core::ApprovalRule>{{"", 1}});
    CHECK(a.limits.maxDuration == 4h);
    CHECK(a.limits.recordingRequired);
    CHECK(a.limits.mfaRequired);
    CHECK_FALSE(a.limits.ssh.portForwarding);
    CHECK(allowed(decide(p, vendor(), asset("ews-3", Criticality::low), Protocol::rdp)).ruleId ==
          "vendor-low-medium");
  }
  SECTION("connecting without a second factor needs MFA") {
    const auto d = decide(p, vendor(), asset("hmi-boiler-2", Criticality::medium), Protocol::ssh,
                          kTuesdayMorning, Action::connect, false);
    REQUIRE(std::holds_alternative<NeedMore>(d));
    CHECK(std::get<NeedMore>(d).what == "mfa");
    CHECK(allowed(decide(p, vendor(), asset("hmi-boiler-2", Criticality::medium), Protocol::ssh,
                         kTuesdayMorning, Action::connect, true))
              .ruleId == "vendor-low-medium");
  }
  SECTION("high criticality needs two approvals and gets a shorter window") {
    const auto& a =
        allowed(decide(p, vendor(), asset("plc-feedwater", Criticality::high), Protocol::ssh));
    CHECK(a.ruleId == "vendor-high");
    CHECK(a.limits.approvals.total() == 2);
    CHECK(a.limits.approvals.rules == std::vector<core::ApprovalRule>{{"", 2}});
    CHECK(a.limits.maxDuration == 2h);
    CHECK(a.limits.recordKeystrokes);
    CHECK_FALSE(a.limits.ssh.sftp);
    CHECK(a.limits.maxSessionsPerAsset == 1);
  }
  SECTION("critical assets fall through to default deny") {
    const auto& d =
        denied(decide(p, vendor(), asset("sis-1", Criticality::critical), Protocol::ssh));
    CHECK(d.ruleId == "default-deny");
    CHECK(denied(decide(p, engineer(), asset("sis-1", Criticality::critical), Protocol::ssh))
              .ruleId == "default-deny");
  }
  SECTION("quarantined assets are denied to everyone, first") {
    const auto& d = denied(
        decide(p, engineer(), asset("ews-3", Criticality::low, {"quarantine"}), Protocol::rdp));
    CHECK(d.ruleId == "quarantined-assets");
    CHECK(d.reason == "the asset is quarantined; contact the site's OT security officer");
  }
  SECTION("engineers need no approval on non-critical assets") {
    const auto& a =
        allowed(decide(p, engineer(), asset("plc-feedwater", Criticality::high), Protocol::ssh));
    CHECK(a.ruleId == "engineer-non-critical");
    CHECK(a.limits.approvals.total() == 0);
    CHECK(a.limits.recordingRequired);
  }
  SECTION("other protocols and roles are denied") {
    CHECK(denied(decide(p, vendor(), asset("plc-7", Criticality::low), Protocol::modbus)).ruleId ==
          "default-deny");
    CHECK(denied(decide(p, auditor(), asset("plc-7", Criticality::low), Protocol::ssh)).ruleId ==
          "default-deny");
  }
}

TEST_CASE("preset strict-critical.toml", "[policies][presets]") {
  const auto p = load({"strict-critical.toml"});
  CHECK(p.size() == 2);
  const auto sis = asset("sis-burner-1", Criticality::critical);

  SECTION("in staffed hours: owner group + safety, 1h, MFA, no sftp or forwarding") {
    const auto& a = allowed(decide(p, vendor(), sis, Protocol::ssh));
    CHECK(a.ruleId == "critical-maintenance");
    CHECK(a.limits.approvals.rules == std::vector<core::ApprovalRule>{{"", 1}, {"safety", 1}});
    CHECK(a.limits.maxDuration == 1h);
    CHECK(a.limits.mfaRequired);
    CHECK(a.limits.recordKeystrokes);
    CHECK_FALSE(a.limits.ssh.sftp);
    CHECK_FALSE(a.limits.ssh.portForwarding);
    CHECK(a.limits.ssh.filterShellCommands);
    CHECK(a.limits.maxSessionsPerAsset == 1);
    REQUIRE(a.limits.schedule.has_value());
    CHECK(a.limits.schedule->timezone == "Europe/Berlin");
    CHECK(a.limits.rdp == core::RdpOptions{});
  }
  SECTION("outside staffed hours the deny rule answers, with the schedule in the trace") {
    for (auto at : {kSaturday, kTuesdayEvening}) {
      std::vector<TraceLine> trace;
      const auto d = p.explain(PolicyContext{vendor(), sis, Protocol::ssh, at}, trace);
      CHECK(denied(d).ruleId == "critical-otherwise-denied");
      REQUIRE(trace.size() == 2);
      CHECK(trace[0].why == "outside schedule mon-fri 06:00-18:00 Europe/Berlin");
    }
  }
  SECTION("other protocols to critical assets are denied even in hours") {
    CHECK(denied(decide(p, vendor(), sis, Protocol::modbus)).ruleId == "critical-otherwise-denied");
    CHECK(denied(decide(p, auditor(), sis, Protocol::ssh)).ruleId == "critical-otherwise-denied");
  }
  SECTION("non-critical assets are not this file's business") {
    CHECK(denied(decide(p, vendor(), asset("hmi-1", Criticality::high), Protocol::ssh)).ruleId ==
          "default-deny");
  }
}

TEST_CASE("preset read-only-modbus.toml", "[policies][presets]") {
  const auto p = load({"read-only-modbus.toml"});
  CHECK(p.size() == 2);

  SECTION("vendors read registers only") {
    const auto& a =
        allowed(decide(p, vendor(), asset("plc-cooling-4", Criticality::high), Protocol::modbus));
    CHECK(a.ruleId == "modbus-read-only");
    CHECK(a.limits.modbus.readOnly);
    CHECK(a.limits.modbus.writes == core::WriteMode::deny);
    CHECK(a.limits.modbus.functionCodes == std::set<int>{3, 4});
    CHECK(a.limits.modbus.unitIds == std::set<int>{1});
    CHECK(a.limits.modbus.ranges == std::vector<core::AddressRange>{{0, 499}, {1000, 1099}});
  }
  SECTION("commissioning assets get writes held for approval") {
    const auto& a =
        allowed(decide(p, vendor(), asset("plc-new-line", Criticality::medium, {"commissioning"}),
                       Protocol::modbus));
    CHECK(a.ruleId == "modbus-commissioning-writes");
    CHECK_FALSE(a.limits.modbus.readOnly);
    CHECK(a.limits.modbus.writes == core::WriteMode::approve);
    CHECK(a.limits.modbus.functionCodes == std::set<int>{3, 4, 6, 16});
    // A commissioning tag on a high-criticality asset does not open writes.
    CHECK(allowed(decide(p, vendor(), asset("plc-x", Criticality::high, {"commissioning"}),
                         Protocol::modbus))
              .ruleId == "modbus-read-only");
  }
  SECTION("critical assets, other protocols and non-vendors are denied") {
    CHECK(denied(decide(p, vendor(), asset("sis-1", Criticality::critical), Protocol::modbus))
              .ruleId == "default-deny");
    CHECK(denied(decide(p, vendor(), asset("plc-7", Criticality::low), Protocol::ssh)).ruleId ==
          "default-deny");
    CHECK(
        denied(decide(p, engineer(), asset("plc-7", Criticality::low), Protocol::modbus)).ruleId ==
        "default-deny");
  }
}

TEST_CASE("the presets load together in the documented order", "[policies][presets]") {
  const auto p = load({"strict-critical.toml", "read-only-modbus.toml", "default.toml"});
  CHECK(p.size() == 8);
  const auto sis = asset("sis-burner-1", Criticality::critical);
  CHECK(allowed(decide(p, vendor(), sis, Protocol::rdp)).ruleId == "critical-maintenance");
  CHECK(denied(decide(p, engineer(), sis, Protocol::ssh, kSaturday)).ruleId ==
        "critical-otherwise-denied");
  CHECK(allowed(decide(p, vendor(), asset("plc-7", Criticality::low), Protocol::modbus)).ruleId ==
        "modbus-read-only");
  CHECK(allowed(decide(p, vendor(), asset("plc-7", Criticality::low), Protocol::ssh)).ruleId ==
        "vendor-low-medium");
  CHECK(denied(decide(p, vendor(), asset("plc-7", Criticality::low), Protocol::s7)).ruleId ==
        "default-deny");
}

TEST_CASE("every preset file parses on its own", "[policies][presets]") {
  for (const auto& entry : std::filesystem::directory_iterator(preset(""))) {
    if (entry.path().extension() != ".toml") continue;
    INFO(entry.path().string());
    auto loaded = PolicySet::load({entry.path()});
    INFO((loaded ? std::string() : loaded.error().message));
    CHECK(loaded.ok());
  }
}
