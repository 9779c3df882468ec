// What allow rules grant: [rule.limits], [rule.ssh], [rule.modbus], [rule.rdp]. For each field a
// value that is carried into the Allow decision and a value that the parser refuses.

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "conduit/policies/policy_set.hpp"

using namespace conduit;
using namespace conduit::policies;
using namespace std::chrono_literals;

namespace {

const core::TimePoint kTuesday = std::chrono::sys_days{2025y / std::chrono::June / 10} + 10h;

std::string ruleWith(const std::string& table, const std::string& body) {
  // Line 5 of the document is the first line of `body`.
  return "[[rule]]\nid = \"r\"\neffect = \"allow\"\n[rule." + table + "]\n" + body + "\n";
}

/// The limits granted by a single allow rule with [rule.TABLE] BODY.
core::AccessLimits granted(const std::string& table, const std::string& body) {
  auto parsed = PolicySet::parse(ruleWith(table, body), "t.toml");
  INFO((parsed ? std::string() : parsed.error().message));
  REQUIRE(parsed.ok());
  core::User user;
  user.username = "alice";
  user.roles = {core::Role::vendor};
  core::Asset asset;
  asset.name = "plc-17";
  const Decision d = parsed->decide(PolicyContext{user, asset, core::Protocol::ssh, kTuesday});
  REQUIRE(std::holds_alternative<Allow>(d));
  return std::get<Allow>(d).limits;
}

/// The parse error for a single allow rule with [rule.TABLE] BODY.
std::string refused(const std::string& table, const std::string& body) {
  auto parsed = PolicySet::parse(ruleWith(table, body), "t.toml");
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().code == core::ErrorCode::invalid_argument);
  return parsed.error().message;
}

}  // namespace

TEST_CASE("a rule without limits grants core's strict defaults", "[policies][limits]") {
  auto parsed = PolicySet::parse("[[rule]]\nid = \"r\"\neffect = \"allow\"\n", "t.toml");
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 1);
  CHECK(parsed->rules()[0].limits == core::AccessLimits{});
}

TEST_CASE("limits.max_duration", "[policies][limits]") {
  CHECK(granted("limits", R"(max_duration = "1h30m")").maxDuration == 5400s);
  CHECK(granted("limits", R"(max_duration = "24h")").maxDuration == 24h);
  CHECK(granted("limits", R"(max_duration = "10m")").maxDuration == 600s);
  CHECK(
      refused("limits", R"(max_duration = "4x")") ==
      R"(t.toml:5: rule 'r': limits.max_duration '4x' is not a duration (e.g. "4h", "30m", "1h30m"))");
  CHECK(refused("limits", R"(max_duration = "25h")") ==
        "t.toml:5: rule 'r': limits.max_duration must be between 1m and 24h");
  CHECK(refused("limits", "max_duration = 4") ==
        "t.toml:5: rule 'r': limits.max_duration must be a string");
}

TEST_CASE("limits.warning_period", "[policies][limits]") {
  CHECK(granted("limits", R"(warning_period = "15m")").warningPeriod == 900s);
  CHECK(granted("limits", R"(warning_period = "0s")").warningPeriod == 0s);
  CHECK(refused("limits", R"(warning_period = "2h")") ==
        "t.toml:5: rule 'r': limits.warning_period must be between 0s and 1h");
  CHECK(refused("limits", "max_duration = \"30m\"\nwarning_period = \"30m\"") ==
        "t.toml:6: rule 'r': limits.warning_period (30m) must be shorter than "
        "limits.max_duration (30m)");
  // The default warning (5m) must also fit into a short window.
  CHECK(refused("limits", R"(max_duration = "3m")") ==
        "t.toml:5: rule 'r': limits.warning_period (5m) must be shorter than "
        "limits.max_duration (3m)");
}

TEST_CASE("limits.recording", "[policies][limits]") {
  CHECK_FALSE(granted("limits", R"(recording = "off")").recordingRequired);
  CHECK(granted("limits", R"(recording = "required")").recordingRequired);
  CHECK(refused("limits", R"(recording = "sometimes")") ==
        R"(t.toml:5: rule 'r': limits.recording 'sometimes' is not one of "required", "off")");
  CHECK(refused("limits", "recording = true") ==
        R"(t.toml:5: rule 'r': limits.recording must be one of "required", "off")");
}

TEST_CASE("limits.record_keystrokes", "[policies][limits]") {
  CHECK(granted("limits", "record_keystrokes = true").recordKeystrokes);
  CHECK_FALSE(granted("limits", "record_keystrokes = false").recordKeystrokes);
  CHECK(refused("limits", R"(record_keystrokes = "yes")") ==
        "t.toml:5: rule 'r': limits.record_keystrokes must be true or false");
}

TEST_CASE("limits.mfa", "[policies][limits]") {
  CHECK_FALSE(granted("limits", R"(mfa = "optional")").mfaRequired);
  CHECK(granted("limits", R"(mfa = "required")").mfaRequired);
  CHECK(refused("limits", R"(mfa = "off")") ==
        R"(t.toml:5: rule 'r': limits.mfa 'off' is not one of "required", "optional")");
}

TEST_CASE("limits.max_sessions_per_user and max_sessions_per_asset", "[policies][limits]") {
  CHECK(granted("limits", "max_sessions_per_user = 3").maxSessionsPerUser == 3);
  CHECK(granted("limits", "max_sessions_per_asset = 2").maxSessionsPerAsset == 2);
  CHECK_FALSE(granted("limits", "max_sessions_per_user = 3").maxSessionsPerAsset.has_value());
  CHECK(refused("limits", "max_sessions_per_user = 0") ==
        "t.toml:5: rule 'r': limits.max_sessions_per_user must be between 1 and 100");
  CHECK(refused("limits", "max_sessions_per_asset = 1.5") ==
        "t.toml:5: rule 'r': limits.max_sessions_per_asset must be an integer");
}

TEST_CASE("limits.approvals as a count from the owner group", "[policies][limits]") {
  const auto two = granted("limits", "approvals = 2").approvals;
  REQUIRE(two.rules.size() == 1);
  CHECK(two.rules[0] == core::ApprovalRule{"", 2});
  CHECK(granted("limits", "approvals = 0").approvals.total() == 0);
  CHECK(refused("limits", "approvals = 11") ==
        "t.toml:5: rule 'r': limits.approvals must be between 0 and 10");
  CHECK(refused("limits", R"(approvals = "2")") ==
        "t.toml:5: rule 'r': limits.approvals must be an integer or an array of { group, count } "
        "tables");
}

TEST_CASE("limits.approvals as a list of groups", "[policies][limits]") {
  const auto a =
      granted("limits", R"(approvals = [{ count = 1 }, { group = "safety", count = 2 }])")
          .approvals;
  REQUIRE(a.rules.size() == 2);
  CHECK(a.rules[0] == core::ApprovalRule{"", 1});
  CHECK(a.rules[1] == core::ApprovalRule{"safety", 2});
  CHECK(a.total() == 3);
  CHECK(granted("limits", R"(approvals = [{ group = "safety" }])").approvals.rules[0].count == 1);

  CHECK(refused("limits", "approvals = []") ==
        "t.toml:5: rule 'r': limits.approvals must not be empty (write approvals = 0)");
  CHECK(refused("limits", R"(approvals = [{ group = "safety", cnt = 1 }])") ==
        "t.toml:5: rule 'r': unknown key 'limits.approvals[0].cnt'");
  CHECK(refused("limits", "approvals = [{ count = 1 },\n  { count = 0 }]") ==
        "t.toml:6: rule 'r': limits.approvals[1].count must be between 1 and 10");
  CHECK(refused("limits", R"(approvals = [{ group = "safety" }, { group = "safety" }])") ==
        "t.toml:5: rule 'r': limits.approvals[1] names group 'safety' twice");
  CHECK(refused("limits", R"(approvals = [{ group = "" }])") ==
        "t.toml:5: rule 'r': limits.approvals[0].group must not be empty (omit it for the owner "
        "group)");
  CHECK(refused("limits", "approvals = [1]") ==
        "t.toml:5: rule 'r': limits.approvals[0] must be a table like { group = \"safety\", count "
        "= 1 }");
  CHECK(refused("limits", "approvals = [{ count = 6 }, { group = \"safety\", count = 5 }]") ==
        "t.toml:5: rule 'r': limits.approvals must add up to at most 10");
}

TEST_CASE("ssh options", "[policies][ssh]") {
  const auto on = granted("ssh", "sftp = true\nport_forwarding = true").ssh;
  CHECK(on.sftp);
  CHECK(on.portForwarding);
  const auto off = granted("ssh", "sftp = false\nport_forwarding = false").ssh;
  CHECK_FALSE(off.sftp);
  CHECK_FALSE(off.portForwarding);
  const auto filtered =
      granted("ssh", "command_deny = [\"reboot*\", \"rm -rf *\"]\nfilter_shell_commands = true")
          .ssh;
  CHECK(filtered.commandDeny == std::vector<std::string>{"reboot*", "rm -rf *"});
  CHECK(filtered.filterShellCommands);
  CHECK_FALSE(granted("ssh", "filter_shell_commands = false").ssh.filterShellCommands);

  CHECK(refused("ssh", R"(sftp = "no")") == "t.toml:5: rule 'r': ssh.sftp must be true or false");
  CHECK(refused("ssh", "port_forwarding = 0") ==
        "t.toml:5: rule 'r': ssh.port_forwarding must be true or false");
  CHECK(refused("ssh", R"(command_deny = "reboot")") ==
        "t.toml:5: rule 'r': ssh.command_deny must be an array of strings");
  CHECK(
      refused("ssh", R"(command_deny = ["rm \\*"])") ==
      R"(t.toml:5: rule 'r': ssh.command_deny pattern 'rm \*' is not a valid glob: '\' is not supported (only '*' and '?' are special))");
  CHECK(refused("ssh", R"(filter_shell_commands = "on")") ==
        "t.toml:5: rule 'r': ssh.filter_shell_commands must be true or false");
}

TEST_CASE("modbus.read_only and modbus.writes", "[policies][modbus]") {
  const auto readOnly = granted("modbus", "read_only = true\nwrites = \"deny\"").modbus;
  CHECK(readOnly.readOnly);
  CHECK(readOnly.writes == core::WriteMode::deny);
  const auto approve = granted("modbus", "read_only = false\nwrites = \"approve\"").modbus;
  CHECK_FALSE(approve.readOnly);
  CHECK(approve.writes == core::WriteMode::approve);
  CHECK(granted("modbus", "read_only = false\nwrites = \"allow\"").modbus.writes ==
        core::WriteMode::allow);

  CHECK(refused("modbus", R"(writes = "approve")") ==
        "t.toml:5: rule 'r': modbus.writes allows writes but modbus.read_only is true");
  CHECK(refused("modbus", "read_only = false") ==
        "t.toml:5: rule 'r': modbus.read_only = false needs modbus.writes = \"allow\" or "
        "\"approve\"");
  CHECK(refused("modbus", R"(writes = "yes")") ==
        R"(t.toml:5: rule 'r': modbus.writes 'yes' is not one of "deny", "allow", "approve")");
  CHECK(refused("modbus", R"(read_only = "true")") ==
        "t.toml:5: rule 'r': modbus.read_only must be true or false");
}

TEST_CASE("modbus.function_codes", "[policies][modbus]") {
  CHECK(granted("modbus", "function_codes = [3, 4]").modbus.functionCodes == std::set<int>{3, 4});
  CHECK(granted("modbus", "read_only = false\nwrites = \"allow\"\nfunction_codes = [3, 16]")
            .modbus.functionCodes == std::set<int>{3, 16});
  CHECK(refused("modbus", "function_codes = [3, 6]") ==
        "t.toml:5: rule 'r': modbus.function_codes has 6, which changes device state, but "
        "modbus.read_only is true");
  CHECK(refused("modbus", "function_codes = [128]") ==
        "t.toml:5: rule 'r': modbus.function_codes must be between 1 and 127");
  CHECK(refused("modbus", "function_codes = [3.5]") ==
        "t.toml:5: rule 'r': modbus.function_codes must be an integer");
}

TEST_CASE("modbus.unit_ids", "[policies][modbus]") {
  CHECK(granted("modbus", "unit_ids = [0, 1, 255]").modbus.unitIds == std::set<int>{0, 1, 255});
  CHECK(refused("modbus", "unit_ids = [256]") ==
        "t.toml:5: rule 'r': modbus.unit_ids must be between 0 and 255");
  CHECK(refused("modbus", "unit_ids = 1") ==
        "t.toml:5: rule 'r': modbus.unit_ids must be an array of integers");
}

TEST_CASE("modbus.ranges", "[policies][modbus]") {
  const auto ranges = granted("modbus", R"(ranges = ["0-99", "200-299", "1000"])").modbus.ranges;
  REQUIRE(ranges.size() == 3);
  CHECK(ranges[0] == core::AddressRange{0, 99});
  CHECK(ranges[1] == core::AddressRange{200, 299});
  CHECK(ranges[2] == core::AddressRange{1000, 1000});
  CHECK(granted("modbus", R"(ranges = ["0-65535"])").modbus.ranges[0] ==
        core::AddressRange{0, 65535});
  const std::string why = "' is not an address range (e.g. \"0-99\" or \"100\", 0 to 65535)";
  CHECK(refused("modbus", R"(ranges = ["99-0"])") ==
        "t.toml:5: rule 'r': modbus.ranges '99-0" + why);
  CHECK(refused("modbus", R"(ranges = ["0-65536"])") ==
        "t.toml:5: rule 'r': modbus.ranges '0-65536" + why);
  CHECK(refused("modbus", R"(ranges = ["-5"])") == "t.toml:5: rule 'r': modbus.ranges '-5" + why);
}

TEST_CASE("rdp channels", "[policies][rdp]") {
  const auto on =
      granted("rdp", "clipboard = true\ndrive = true\nprinter = true\naudio = true").rdp;
  CHECK(on.clipboardToTarget);
  CHECK(on.clipboardFromTarget);
  CHECK(on.drive);
  CHECK(on.printer);
  CHECK(on.audio);
  const auto off = granted("rdp", "clipboard = false").rdp;
  CHECK(off == core::RdpOptions{});  // everything off unless the policy says otherwise
  for (const char* key : {"drive", "printer", "audio"}) {
    CHECK(refused("rdp", std::string(key) + " = \"on\"") ==
          "t.toml:5: rule 'r': rdp." + std::string(key) + " must be true or false");
  }
  // The clipboard one way only: pasting into the target, or copying from it.
  const auto in = granted("rdp", "clipboard = \"to-target\"").rdp;
  CHECK(in.clipboardToTarget);
  CHECK_FALSE(in.clipboardFromTarget);
  CHECK(in.clipboard());
  const auto out = granted("rdp", "clipboard = \"from-target\"").rdp;
  CHECK_FALSE(out.clipboardToTarget);
  CHECK(out.clipboardFromTarget);
  CHECK_FALSE(off.clipboard());
  for (const char* bad : {"\"on\"", "\"both\"", "1"}) {
    CHECK(refused("rdp", std::string("clipboard = ") + bad) ==
          R"(t.toml:5: rule 'r': rdp.clipboard must be true, false, "to-target" or "from-target")");
  }
}

TEST_CASE("the explanation names the scope of the protocol in use", "[policies][limits]") {
  auto parsed = PolicySet::parse(R"([[rule]]
id = "r"
effect = "allow"
[rule.modbus]
function_codes = [3, 4]
unit_ids = [1]
ranges = ["0-99"]
[rule.rdp]
clipboard = true
)",
                                 "t.toml");
  REQUIRE(parsed.ok());
  core::User user;
  user.username = "alice";
  core::Asset asset;
  asset.name = "plc-17";
  const auto explanationFor = [&](core::Protocol p) {
    const Decision d = parsed->decide(PolicyContext{user, asset, p, kTuesday});
    REQUIRE(std::holds_alternative<Allow>(d));
    return std::get<Allow>(d).explanation;
  };
  CHECK(explanationFor(core::Protocol::modbus) ==
        "rule 'r' (t.toml:1) allows 'alice' modbus to 'plc-17': max 4h, 1 approval from the "
        "owner group, recording required, MFA required, read-only, function codes [3, 4], unit "
        "ids [1], ranges [0-99]");
  CHECK(explanationFor(core::Protocol::rdp) ==
        "rule 'r' (t.toml:1) allows 'alice' rdp to 'plc-17': max 4h, 1 approval from the owner "
        "group, recording required, MFA required, clipboard on, drive off, printer off, audio off");
  auto oneWay = PolicySet::parse(R"([[rule]]
id = "r"
effect = "allow"
[rule.rdp]
clipboard = "to-target"
)",
                                 "t.toml");
  REQUIRE(oneWay.ok());
  const Decision d = oneWay->decide(PolicyContext{user, asset, core::Protocol::rdp, kTuesday});
  REQUIRE(std::holds_alternative<Allow>(d));
  CHECK_THAT(std::get<Allow>(d).explanation,
             Catch::EndsWith("clipboard to the target only, drive off, printer off, audio off"));
}

TEST_CASE("s7.read_only and s7.functions", "[policies][s7]") {
  CHECK(granted("s7", "read_only = true").s7 == core::S7Options{});
  CHECK(core::S7Options{}.readOnly);  // a rule without [rule.s7] grants read-only S7
  CHECK_FALSE(granted("s7", "read_only = false").s7.readOnly);
  // TOML hex integers, as the protocol documents its codes.
  CHECK(granted("s7", "functions = [0x04, 0x1D, 0x1E, 0x1F]").s7.functions ==
        std::set<int>{0x04, 0x1d, 0x1e, 0x1f});
  CHECK(granted("s7", "read_only = false\nfunctions = [0x04, 0x05, 0x1A, 0x1B, 0x1C, 0x28]")
            .s7.functions == std::set<int>{0x04, 0x05, 0x1a, 0x1b, 0x1c, 0x28});

  for (const char* code : {"0x05", "0x1A", "0x28", "0x29", "0x00"}) {
    CHECK(refused("s7", std::string("functions = [0x04, ") + code + "]") ==
          "t.toml:5: rule 'r': s7.functions has " + std::string(code) +
              ", which can change the PLC's state, but s7.read_only is true");
  }
  CHECK(refused("s7", "functions = [256]") ==
        "t.toml:5: rule 'r': s7.functions must be between 0 and 255");
  CHECK(refused("s7", "functions = []") ==
        "t.toml:5: rule 'r': s7.functions must not be empty (leave it out instead)");
  CHECK(refused("s7", "functions = 4") ==
        "t.toml:5: rule 'r': s7.functions must be an array of integers");
  CHECK(refused("s7", R"(read_only = "yes")") ==
        "t.toml:5: rule 'r': s7.read_only must be true or false");
  CHECK(refused("s7", R"(writes = "allow")") == "t.toml:5: rule 'r': unknown key 's7.writes'");
}

TEST_CASE("s7 applies to allow rules only", "[policies][s7]") {
  auto parsed = PolicySet::parse(
      "[[rule]]\nid = \"r\"\neffect = \"deny\"\n[rule.s7]\nread_only = true\n", "t.toml");
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().message == "t.toml:4: rule 'r': s7 applies to allow rules only");
}

TEST_CASE("the explanation names the S7 scope", "[policies][s7]") {
  auto parsed = PolicySet::parse(R"([[rule]]
id = "ro"
effect = "allow"
[rule.match]
users = ["alice"]

[[rule]]
id = "rw"
effect = "allow"
[rule.s7]
read_only = false
functions = [0x04, 0x05]
)",
                                 "t.toml");
  REQUIRE(parsed.ok());
  core::Asset asset;
  asset.name = "plc-17";
  const auto explanationFor = [&](const std::string& name) {
    core::User user;
    user.username = name;
    const Decision d = parsed->decide(PolicyContext{user, asset, core::Protocol::s7, kTuesday});
    REQUIRE(std::holds_alternative<Allow>(d));
    return std::get<Allow>(d).explanation;
  };
  CHECK(explanationFor("alice") ==
        "rule 'ro' (t.toml:1) allows 'alice' s7 to 'plc-17': max 4h, 1 approval from the owner "
        "group, recording required, MFA required, read-only");
  CHECK(explanationFor("bob") ==
        "rule 'rw' (t.toml:7) allows 'bob' s7 to 'plc-17': max 4h, 1 approval from the owner "
        "group, recording required, MFA required, writes allowed, functions [0x04, 0x05]");
}
