// Reading policy files: every class of error, with the exact FILE:LINE message, and loading
// several files.

#include <catch2/catch.hpp>

#include <string>

#include "conduit/policies/policy_set.hpp"
#include "support/temp_dir.hpp"

using namespace conduit;
using namespace conduit::policies;

namespace {

/// The error message for `text` read as "p.toml"; the test fails if it parses.
std::string errorOf(const std::string& text, const std::string& source = "p.toml") {
  auto parsed = PolicySet::parse(text, source);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().code == core::ErrorCode::invalid_argument);
  return parsed.error().message;
}

/// A rule "x" whose body (from line 4 on) is `body`.
std::string ruleX(const std::string& body, const std::string& effect = "allow") {
  return "[[rule]]\nid = \"x\"\neffect = \"" + effect + "\"\n" + body + "\n";
}

}  // namespace

TEST_CASE("a file without rules is valid and denies everything", "[policies][parse]") {
  auto parsed = PolicySet::parse("# nothing here yet\n", "empty.toml");
  REQUIRE(parsed.ok());
  CHECK(parsed->size() == 0);
}

TEST_CASE("rules keep their order, ids, text and source line", "[policies][parse]") {
  auto parsed = PolicySet::parse(R"(# header
[[rule]]
id = "first"
description = "the first rule"
effect = "deny"
reason = "because"

[[rule]]
id = "second-2"
effect = "allow"
)",
                                 "order.toml");
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 2);
  const auto& rules = parsed->rules();
  CHECK(rules[0].id == "first");
  CHECK(rules[0].description == "the first rule");
  CHECK(rules[0].effect == Effect::deny);
  CHECK(rules[0].reason == "because");
  CHECK(rules[0].source == "order.toml:2");
  CHECK(rules[1].id == "second-2");
  CHECK(rules[1].effect == Effect::allow);
  CHECK(rules[1].source == "order.toml:8");
}

TEST_CASE("TOML syntax errors name the file and line", "[policies][parse]") {
  const std::string message = errorOf("[[rule]]\nid = \"x\"\neffect = \"allow\n");
  CHECK_THAT(message, Catch::StartsWith("p.toml:3: "));
  CHECK(message.size() > std::string("p.toml:3: ").size());
  CHECK_THAT(errorOf("[[rule]\n"), Catch::StartsWith("p.toml:1: "));
  CHECK_THAT(errorOf("[[rule]]\nid = \"x\"\nid = \"y\"\n"), Catch::StartsWith("p.toml:3: "));
}

TEST_CASE("unknown keys are errors at every level", "[policies][parse]") {
  // The example from the brief, verbatim: line 12 of default.toml.
  CHECK(errorOf(R"(# default policy
# (comment lines so that the error is on line 12)



[[rule]]
id = "x"
effect = "allow"

[rule.match]
roles = ["vendor"]
asset = ["plc-*"]
)",
                "default.toml") == "default.toml:12: rule 'x': unknown key 'match.asset'");
  CHECK(errorOf("rules = []\n") ==
        "p.toml:1: unknown key 'rules' (a policy file holds only [[rule]] tables)");
  CHECK(errorOf(ruleX("efect = \"deny\"")) == "p.toml:4: rule 'x': unknown key 'efect'");
  CHECK(errorOf(ruleX("[rule.limits]\nmax_time = \"1h\"")) ==
        "p.toml:5: rule 'x': unknown key 'limits.max_time'");
  CHECK(errorOf(ruleX("[rule.schedule]\ntimezone = \"UTC\"\nday = [\"mon\"]")) ==
        "p.toml:6: rule 'x': unknown key 'schedule.day'");
  CHECK(errorOf(ruleX("[rule.ssh]\nscp = false")) == "p.toml:5: rule 'x': unknown key 'ssh.scp'");
  CHECK(errorOf(ruleX("[rule.modbus]\nregisters = [\"0-9\"]")) ==
        "p.toml:5: rule 'x': unknown key 'modbus.registers'");
  CHECK(errorOf(ruleX("[rule.rdp]\nusb = false")) == "p.toml:5: rule 'x': unknown key 'rdp.usb'");
  CHECK(errorOf(ruleX("[rule.match.extra]\nx = 1")) ==
        "p.toml:4: rule 'x': unknown key 'match.extra'");
}

TEST_CASE("rule ids are required, well-formed and unique", "[policies][parse]") {
  CHECK(errorOf("[[rule]]\neffect = \"allow\"\n") == "p.toml:1: rule #1: missing key 'id'");
  CHECK(errorOf("[[rule]]\nid = \"a\"\neffect = \"deny\"\n[[rule]]\nid = 7\neffect = \"deny\"\n") ==
        "p.toml:5: rule #2: id must be a string");
  CHECK(errorOf("[[rule]]\nid = \"Vendor_SSH\"\neffect = \"deny\"\n") ==
        "p.toml:2: rule 'Vendor_SSH': id must be 1 to 64 characters of a-z, 0-9 and '-'");
  CHECK(errorOf("[[rule]]\nid = \"\"\neffect = \"deny\"\n") ==
        "p.toml:2: rule '': id must be 1 to 64 characters of a-z, 0-9 and '-'");
  CHECK(errorOf("[[rule]]\nid = \"" + std::string(65, 'a') + "\"\neffect = \"deny\"\n") ==
        "p.toml:2: rule '" + std::string(65, 'a') +
            "': id must be 1 to 64 characters of a-z, 0-9 and '-'");
  CHECK(errorOf("[[rule]]\nid = \"default-deny\"\neffect = \"deny\"\n") ==
        "p.toml:2: rule 'default-deny': id 'default-deny' is reserved for the implicit last rule");
  CHECK(errorOf("[[rule]]\nid = \"a\"\neffect = \"deny\"\n\n[[rule]]\nid = \"a\"\n"
                "effect = \"allow\"\n") ==
        "p.toml:5: rule 'a': duplicate id (first defined at p.toml:1)");
}

TEST_CASE("effect, description and reason", "[policies][parse]") {
  CHECK(errorOf("[[rule]]\nid = \"x\"\n") ==
        "p.toml:1: rule 'x': missing key 'effect' (\"allow\" or \"deny\")");
  CHECK(errorOf("[[rule]]\nid = \"x\"\neffect = \"permit\"\n") ==
        "p.toml:3: rule 'x': effect 'permit' is not one of \"allow\", \"deny\"");
  CHECK(errorOf("[[rule]]\nid = \"x\"\neffect = true\n") ==
        "p.toml:3: rule 'x': effect must be one of \"allow\", \"deny\"");
  CHECK(errorOf(ruleX("description = 5")) == "p.toml:4: rule 'x': description must be a string");
  CHECK(errorOf(ruleX("reason = \"no\"")) ==
        "p.toml:4: rule 'x': reason applies to deny rules only");
  CHECK(errorOf(ruleX("reason = 1", "deny")) == "p.toml:4: rule 'x': reason must be a string");
}

TEST_CASE("grant tables belong to allow rules only", "[policies][parse]") {
  for (const std::string table : {"limits", "ssh", "modbus", "rdp"}) {
    CHECK(errorOf(ruleX("[rule." + table + "]", "deny")) ==
          "p.toml:4: rule 'x': " + table + " applies to allow rules only");
  }
}

TEST_CASE("tables and lists have the right shape", "[policies][parse]") {
  CHECK(errorOf("rule = 1\n") == "p.toml:1: rule must be an array of tables ([[rule]])");
  CHECK(errorOf("[rule]\nid = \"x\"\n") == "p.toml:1: rule must be an array of tables ([[rule]])");
  CHECK(errorOf(ruleX("match = \"vendors\"")) ==
        "p.toml:4: rule 'x': match must be a table ([rule.match])");
  CHECK(errorOf(ruleX("schedule = 1")) ==
        "p.toml:4: rule 'x': schedule must be a table ([rule.schedule])");
  CHECK(errorOf(ruleX("[rule.match]\nroles = \"vendor\"")) ==
        "p.toml:5: rule 'x': match.roles must be an array of strings");
  CHECK(errorOf(ruleX("[rule.match]\nsites = [\"hamburg\",\n  3]")) ==
        "p.toml:6: rule 'x': match.sites must be an array of strings");
  CHECK(errorOf(ruleX("[rule.match]\ntags = [\"\"]")) ==
        "p.toml:5: rule 'x': match.tags must not contain empty strings");
}

TEST_CASE("enumeration words are checked", "[policies][parse]") {
  CHECK(errorOf(ruleX("[rule.match]\nroles = [\"vendr\"]")) ==
        "p.toml:5: rule 'x': match.roles has unknown role 'vendr' (expected vendor, engineer, "
        "auditor, admin)");
  CHECK(errorOf(ruleX("[rule.match]\ncriticality = [\"severe\"]")) ==
        "p.toml:5: rule 'x': match.criticality has unknown criticality 'severe' (expected low, "
        "medium, high, critical)");
  CHECK(errorOf(ruleX("[rule.match]\nprotocols = [\"ssh\", \"telnet\"]")) ==
        "p.toml:5: rule 'x': match.protocols has unknown protocol 'telnet' (expected ssh, rdp, "
        "modbus, s7, dnp3, opcua, tcp)");
  CHECK(errorOf(ruleX("[rule.match]\nactions = [\"open\"]")) ==
        "p.toml:5: rule 'x': match.actions has unknown action 'open' (expected request, connect)");
}

TEST_CASE("asset globs are checked", "[policies][parse]") {
  CHECK(errorOf(ruleX("[rule.match]\nassets = [\"plc-[1-3]\"]")) ==
        "p.toml:5: rule 'x': match.assets pattern 'plc-[1-3]' is not a valid glob: '[' is not "
        "supported (only '*' and '?' are special)");
  CHECK(errorOf(ruleX("[rule.match]\nassets = [\"plc-{a,b}\"]")) ==
        "p.toml:5: rule 'x': match.assets pattern 'plc-{a,b}' is not a valid glob: '{' is not "
        "supported (only '*' and '?' are special)");
  CHECK(errorOf(ruleX("[rule.match]\nassets = [\"plc\\t1\"]")) ==
        "p.toml:5: rule 'x': match.assets pattern 'plc\t1' is not a valid glob: control "
        "characters are not allowed");
}

TEST_CASE("schedules are checked when loading", "[policies][parse][schedule]") {
  CHECK(errorOf(ruleX("[rule.schedule]\ntimezone = \"Europe/Berln\"")) ==
        "p.toml:5: rule 'x': schedule.timezone 'Europe/Berln' is not a known IANA time zone");
  CHECK(errorOf(ruleX("[rule.schedule]\ntimezone = \"CEST\"")) ==
        "p.toml:5: rule 'x': schedule.timezone 'CEST' is not a known IANA time zone");
  CHECK(errorOf(ruleX("[rule.schedule]\ndays = [\"mon-fri\"]")) ==
        "p.toml:4: rule 'x': missing key 'schedule.timezone' (e.g. \"Europe/Berlin\")");
  CHECK(errorOf(ruleX("[rule.schedule]\ntimezone = 1")) ==
        "p.toml:5: rule 'x': schedule.timezone must be a string");
  CHECK(errorOf(ruleX("[rule.schedule]\ntimezone = \"UTC\"\ndays = [\"mon-fry\"]")) ==
        "p.toml:6: rule 'x': schedule.days 'mon-fry' is not a day or day range (mon, tue, wed, "
        "thu, fri, sat, sun, e.g. \"mon-fri\")");
  CHECK(errorOf(ruleX("[rule.schedule]\ntimezone = \"UTC\"\ndays = []")) ==
        "p.toml:6: rule 'x': schedule.days must name at least one day");
  CHECK(errorOf(ruleX("[rule.schedule]\ntimezone = \"UTC\"\nhours = \"6-18\"")) ==
        "p.toml:6: rule 'x': schedule.hours '6-18' is not a time range (e.g. \"06:00-18:00\")");
  CHECK(errorOf(ruleX("[rule.schedule]\ntimezone = \"UTC\"\nhours = \"24:00-06:00\"")) ==
        "p.toml:6: rule 'x': schedule.hours '24:00-06:00' is not a time range (e.g. "
        "\"06:00-18:00\")");
  CHECK(errorOf(ruleX("[rule.schedule]\ntimezone = \"UTC\"\nhours = \"06:60-07:00\"")) ==
        "p.toml:6: rule 'x': schedule.hours '06:60-07:00' is not a time range (e.g. "
        "\"06:00-18:00\")");
  CHECK(errorOf(ruleX("[rule.schedule]\ntimezone = \"UTC\"\nhours = \"06:00-06:00\"")) ==
        "p.toml:6: rule 'x': schedule.hours '06:00-06:00' is an empty time range");
}

TEST_CASE("schedules are read into core::Schedule", "[policies][parse][schedule]") {
  auto parsed = PolicySet::parse(ruleX("[rule.schedule]\ndays = [\"mon-wed\", \"sat\"]\n"
                                       "hours = \"06:30-24:00\"\ntimezone = \"Asia/Kolkata\""),
                                 "p.toml");
  REQUIRE(parsed.ok());
  const auto& rule = parsed->rules()[0];
  REQUIRE(rule.schedule.has_value());
  CHECK(rule.schedule->weekdays == std::set<int>{1, 2, 3, 6});
  CHECK(rule.schedule->startMinute == 6 * 60 + 30);
  CHECK(rule.schedule->endMinute == 24 * 60);
  CHECK(rule.schedule->timezone == "Asia/Kolkata");
  CHECK(rule.limits.schedule == rule.schedule);

  // A day range may wrap past Sunday.
  auto wrapped = PolicySet::parse(
      ruleX("[rule.schedule]\ndays = [\"fri-mon\"]\ntimezone = \"UTC\""), "p.toml");
  REQUIRE(wrapped.ok());
  CHECK(wrapped->rules()[0].schedule->weekdays == std::set<int>{5, 6, 0, 1});
}

TEST_CASE("load concatenates files in order, ids are unique across files",
          "[policies][parse][load]") {
  test::TempDir dir;
  test::writeText(dir / "a.toml", "[[rule]]\nid = \"a1\"\neffect = \"deny\"\n");
  test::writeText(dir / "b.toml", "# b\n[[rule]]\nid = \"b1\"\neffect = \"allow\"\n");
  test::writeText(dir / "dup.toml", "\n\n[[rule]]\nid = \"a1\"\neffect = \"allow\"\n");

  auto both = PolicySet::load({dir / "a.toml", dir / "b.toml"});
  REQUIRE(both.ok());
  REQUIRE(both->size() == 2);
  CHECK(both->rules()[0].id == "a1");
  CHECK(both->rules()[1].id == "b1");
  CHECK(both->rules()[1].source == (dir / "b.toml").string() + ":2");

  auto reversed = PolicySet::load({dir / "b.toml", dir / "a.toml"});
  REQUIRE(reversed.ok());
  CHECK(reversed->rules()[0].id == "b1");

  auto clash = PolicySet::load({dir / "a.toml", dir / "dup.toml"});
  REQUIRE_FALSE(clash.ok());
  CHECK(clash.error().code == core::ErrorCode::invalid_argument);
  CHECK(clash.error().message == (dir / "dup.toml").string() +
                                     ":3: rule 'a1': duplicate id (first defined at " +
                                     (dir / "a.toml").string() + ":1)");

  CHECK(PolicySet::load({})->size() == 0);
}

TEST_CASE("load reports unreadable and invalid files", "[policies][parse][load]") {
  test::TempDir dir;
  auto missing = PolicySet::load({dir / "missing.toml"});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == core::ErrorCode::unavailable);
  CHECK(missing.error().message == "cannot read policy file " + (dir / "missing.toml").string() +
                                       ": No such file or directory");

  auto directory = PolicySet::load({dir.path()});
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().code == core::ErrorCode::unavailable);
  CHECK(directory.error().message == "policy file " + dir.path().string() + " is a directory");

  test::writeText(dir / "bad.toml", "[[rule]]\nid = \"x\"\neffect = \"alow\"\n");
  auto bad = PolicySet::load({dir / "bad.toml"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == core::ErrorCode::invalid_argument);
  CHECK(bad.error().message == (dir / "bad.toml").string() +
                                   ":3: rule 'x': effect 'alow' is not one of \"allow\", \"deny\"");
}

TEST_CASE("oversized input is refused before parsing", "[policies][parse]") {
  const std::string huge = "# " + std::string(1024 * 1024, 'x') + "\n";
  CHECK(errorOf(huge) == "p.toml: policy file is larger than 1048576 bytes");
  test::TempDir dir;
  test::writeText(dir / "huge.toml", huge);
  auto loaded = PolicySet::load({dir / "huge.toml"});
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().message ==
        (dir / "huge.toml").string() + ": policy file is larger than 1048576 bytes");
}

TEST_CASE("hostile input yields errors, never exceptions", "[policies][parse]") {
  const std::string inputs[] = {
      std::string("\0\xff\xfe[[rule]]", 11),
      "[[rule]]\nid = \"x\"\neffect = \"allow\"\n[rule.match]\nroles = [[[[[[[[[[]]]]]]]]]]\n",
      std::string(100000, '['),
      "[[rule]]\n[[rule]]\n[[rule]]\n",
      "a.b.c.d.e.f = 1\n",
  };
  for (const auto& input : inputs) {
    auto parsed = PolicySet::parse(input, "fuzz.toml");
    CHECK_FALSE(parsed.ok());
    if (!parsed.ok()) CHECK_THAT(parsed.error().message, Catch::StartsWith("fuzz.toml"));
  }
}
