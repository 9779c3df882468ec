// Reads policy files: toml++ does the TOML; this checks every key, type, word and range, which
// no library does for us. Policy files are configuration that an attacker may try to influence,
// so anything not understood is an error rather than ignored.

#include <toml++/toml.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>

#include "conduit/policies/glob.hpp"
#include "conduit/policies/policy_set.hpp"
#include "conduit/policies/schedule.hpp"
#include "text.hpp"

namespace conduit::policies {

using core::ErrorCode;
using core::fail;

namespace {

// 1 MiB: real policy sets are a few kilobytes; the cap bounds memory and parse time for a file
// that is not a policy (or is hostile).
constexpr std::size_t kMaxPolicyBytes = 1024 * 1024;
// Decisions walk the rules linearly on every request and connect; 10000 is far beyond any
// plant's needs and keeps a decision in microseconds.
constexpr std::size_t kMaxRules = 10000;
constexpr std::size_t kMaxIdLength = 64;

// A grant longer than a working day is standing access, not a maintenance window; one shorter
// than a minute cannot be used.
constexpr core::Seconds kMinDuration{60};
constexpr core::Seconds kMaxDuration{24 * 3600};
constexpr core::Seconds kMaxWarning{3600};
// More approvers than this is a typo, and no plant has the staff to meet it.
constexpr std::int64_t kMaxApprovals = 10;
// Fragile PLCs accept a handful of connections; a higher number is almost certainly a mistake.
constexpr std::int64_t kMaxSessions = 100;

// Modbus function codes that change device state: writes (5, 6, 15, 16, 21, 22, 23) and
// diagnostics (8), which can restart communications or force listen-only mode.
const std::set<int> kModbusStateChangingCodes = {5, 6, 8, 15, 16, 21, 22, 23};
// S7 job functions that leave the PLC as it was: setup communication (0xF0), read var (0x04)
// and the upload sequence (0x1D-0x1F). Everything else (write var, download, PI service, PLC
// stop, CPU services, codes nobody documented) may change it, so a read-only grant cannot list it.
const std::set<int> kS7ReadOnlyFunctions = {0x04, 0x1D, 0x1E, 0x1F, 0xF0};

// Monday first, as people write weeks; the value is core's day number (Sunday = 0).
constexpr std::array<std::pair<std::string_view, int>, 7> kDays = {
    {{"mon", 1}, {"tue", 2}, {"wed", 3}, {"thu", 4}, {"fri", 5}, {"sat", 6}, {"sun", 0}}};

/// A problem found while reading; thrown inside this file only and turned into a core::Error
/// by parse(), so nothing escapes the public API.
struct Invalid {
  std::string message;
};

std::optional<int> dayIndex(std::string_view name) {
  for (std::size_t i = 0; i < kDays.size(); ++i) {
    if (kDays[i].first == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

/// "HH:MM" to minutes after midnight; 24:00 only when `endOfDay`.
std::optional<int> parseClock(std::string_view s, bool endOfDay) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (std::size_t i : {0U, 1U, 3U, 4U}) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59) return std::nullopt;
  if (h == 24 && m == 0 && endOfDay) return 24 * 60;
  if (h > 23) return std::nullopt;
  return h * 60 + m;
}

/// A Modbus address or inclusive range: "100" or "0-99".
std::optional<core::AddressRange> parseAddressRange(std::string_view s) {
  auto number = [](std::string_view n) -> std::optional<int> {
    if (n.empty() || n.size() > 5) return std::nullopt;
    int v = 0;
    for (char c : n) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    if (v > 65535) return std::nullopt;
    return v;
  };
  const auto dash = s.find('-');
  const auto first = number(s.substr(0, dash));
  const auto last = dash == std::string_view::npos ? first : number(s.substr(dash + 1));
  if (!first || !last || *first > *last) return std::nullopt;
  return core::AddressRange{*first, *last};
}

bool validId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

std::string words(std::initializer_list<std::string_view> ws) {
  std::string out;
  for (auto w : ws) out += (out.empty() ? "" : ", ") + std::string(w);
  return out;
}

/// Reads one [[rule]] table. Every error names the source, the line and the rule.
class RuleReader {
 public:
  RuleReader(const std::string& source, std::size_t index)
      : source_(source), label_("rule #" + std::to_string(index + 1)) {}

  Rule read(const toml::table& t) {
    Rule rule;
    rule.source = source_ + ":" + std::to_string(t.source().begin.line);
    // Name the rule in every message from here on, even if its id turns out to be malformed.
    if (const auto id = t["id"].value<std::string>()) label_ = "rule '" + *id + "'";
    checkKeys(t, "",
              {"id", "description", "effect", "reason", "match", "schedule", "limits", "ssh",
               "modbus", "s7", "rdp"});

    const toml::node* id = t.get("id");
    if (id == nullptr) bad(t, "missing key 'id'");
    rule.id = string(*id, "id");
    if (!validId(rule.id)) {
      bad(*id, "id must be 1 to 64 characters of a-z, 0-9 and '-'");
    }
    if (rule.id == kDefaultDenyId) {
      bad(*id, "id '" + rule.id + "' is reserved for the implicit last rule");
    }

    const toml::node* effect = t.get("effect");
    if (effect == nullptr) bad(t, "missing key 'effect' (\"allow\" or \"deny\")");
    rule.effect =
        word<Effect>(*effect, "effect", {{"allow", Effect::allow}, {"deny", Effect::deny}});

    if (const toml::node* n = t.get("description")) rule.description = string(*n, "description");
    if (const toml::node* n = t.get("reason")) {
      if (rule.effect != Effect::deny) bad(*n, "reason applies to deny rules only");
      rule.reason = string(*n, "reason");
    }
    if (const toml::node* n = t.get("match")) rule.match = readMatch(table(*n, "match"));
    if (const toml::node* n = t.get("schedule")) {
      rule.schedule = readSchedule(table(*n, "schedule"));
    }

    for (const char* key : {"limits", "ssh", "modbus", "s7", "rdp"}) {
      const toml::node* n = t.get(key);
      if (n != nullptr && rule.effect != Effect::allow) {
        bad(*n, std::string(key) + " applies to allow rules only");
      }
    }
    // Every limit starts at core's default, which is the strict choice.
    core::AccessLimits& limits = rule.limits;
    if (const toml::node* n = t.get("limits")) readLimits(table(*n, "limits"), limits);
    if (const toml::node* n = t.get("ssh")) readSsh(table(*n, "ssh"), limits.ssh);
    if (const toml::node* n = t.get("modbus")) readModbus(table(*n, "modbus"), limits.modbus);
    if (const toml::node* n = t.get("s7")) readS7(table(*n, "s7"), limits.s7);
    if (const toml::node* n = t.get("rdp")) readRdp(table(*n, "rdp"), limits.rdp);
    limits.schedule = rule.schedule;
    return rule;
  }

  [[noreturn]] void bad(const toml::node& at, const std::string& why) const {
    throw Invalid{source_ + ":" + std::to_string(at.source().begin.line) + ": " + label_ + ": " +
                  why};
  }

 private:
  void checkKeys(const toml::table& t, std::string_view prefix,
                 std::initializer_list<std::string_view> allowed) const {
    for (const auto& [key, node] : t) {
      bool known = false;
      for (auto a : allowed) known = known || a == key.str();
      if (!known) bad(node, "unknown key '" + std::string(prefix) + std::string(key.str()) + "'");
    }
  }

  const toml::table& table(const toml::node& n, const std::string& key) const {
    if (!n.is_table()) bad(n, key + " must be a table ([rule." + key + "])");
    return *n.as_table();
  }

  std::string string(const toml::node& n, const std::string& key) const {
    if (!n.is_string()) bad(n, key + " must be a string");
    return *n.value<std::string>();
  }

  bool boolean(const toml::node& n, const std::string& key) const {
    if (!n.is_boolean()) bad(n, key + " must be true or false");
    return *n.value<bool>();
  }

  std::int64_t integer(const toml::node& n, const std::string& key, std::int64_t min,
                       std::int64_t max) const {
    if (!n.is_integer()) bad(n, key + " must be an integer");
    const std::int64_t v = *n.value<std::int64_t>();
    if (v < min || v > max) {
      bad(n, key + " must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return v;
  }

  template <typename T>
  T word(const toml::node& n, const std::string& key,
         std::initializer_list<std::pair<std::string_view, T>> choices) const {
    std::string expected;
    for (const auto& choice : choices) {
      expected += (expected.empty() ? "\"" : ", \"") + std::string(choice.first) + "\"";
    }
    if (n.is_string()) {
      const std::string s = *n.value<std::string>();
      for (const auto& choice : choices) {
        if (choice.first == s) return choice.second;
      }
      bad(n, key + " '" + s + "' is not one of " + expected);
    }
    bad(n, key + " must be one of " + expected);
  }

  const toml::array& array(const toml::node& n, const std::string& key,
                           const std::string& ofWhat) const {
    if (!n.is_array()) bad(n, key + " must be an array of " + ofWhat);
    return *n.as_array();
  }

  /// The strings of an array, each non-empty, with the node it came from.
  std::vector<std::pair<std::string, const toml::node*>> strings(const toml::node& n,
                                                                 const std::string& key) const {
    std::vector<std::pair<std::string, const toml::node*>> out;
    for (const toml::node& e : array(n, key, "strings")) {
      if (!e.is_string()) bad(e, key + " must be an array of strings");
      std::string s = *e.value<std::string>();
      if (s.empty()) bad(e, key + " must not contain empty strings");
      out.emplace_back(std::move(s), &e);
    }
    return out;
  }

  std::set<std::string> stringSet(const toml::node& n, const std::string& key) const {
    std::set<std::string> out;
    for (auto& [s, e] : strings(n, key)) out.insert(std::move(s));
    return out;
  }

  /// Each string parsed by `parse`; `what` and `expected` word the error.
  template <typename T, typename Parse>
  std::set<T> enumSet(const toml::node& n, const std::string& key, Parse parse,
                      const std::string& what, const std::string& expected) const {
    std::set<T> out;
    for (const auto& [s, e] : strings(n, key)) {
      const std::optional<T> v = parse(s);
      if (!v) bad(*e, key + " has unknown " + what + " '" + s + "' (expected " + expected + ")");
      out.insert(*v);
    }
    return out;
  }

  RuleMatch readMatch(const toml::table& t) const {
    checkKeys(t, "match.",
              {"roles", "vendors", "users", "assets", "sites", "zones", "criticality", "tags",
               "protocols", "actions"});
    RuleMatch m;
    if (const toml::node* n = t.get("roles")) {
      m.roles = enumSet<core::Role>(*n, "match.roles", core::parseRole, "role",
                                    words({"vendor", "engineer", "auditor", "admin"}));
    }
    if (const toml::node* n = t.get("vendors")) m.vendors = stringSet(*n, "match.vendors");
    if (const toml::node* n = t.get("users")) m.users = stringSet(*n, "match.users");
    if (const toml::node* n = t.get("assets")) {
      for (auto& [pattern, e] : strings(*n, "match.assets")) {
        if (auto problem = globProblem(pattern)) {
          bad(*e, "match.assets pattern '" + pattern + "' is not a valid glob: " + *problem);
        }
        m.assets.push_back(std::move(pattern));
      }
    }
    if (const toml::node* n = t.get("sites")) m.sites = stringSet(*n, "match.sites");
    if (const toml::node* n = t.get("zones")) m.zones = stringSet(*n, "match.zones");
    if (const toml::node* n = t.get("criticality")) {
      m.criticality =
          enumSet<core::Criticality>(*n, "match.criticality", core::parseCriticality, "criticality",
                                     words({"low", "medium", "high", "critical"}));
    }
    if (const toml::node* n = t.get("tags")) m.tags = stringSet(*n, "match.tags");
    if (const toml::node* n = t.get("protocols")) {
      m.protocols =
          enumSet<core::Protocol>(*n, "match.protocols", core::parseProtocol, "protocol",
                                  words({"ssh", "rdp", "modbus", "s7", "dnp3", "opcua", "tcp"}));
    }
    if (const toml::node* n = t.get("actions")) {
      m.actions = enumSet<Action>(*n, "match.actions", parseAction, "action",
                                  words({"request", "connect"}));
    }
    return m;
  }

  core::Schedule readSchedule(const toml::table& t) const {
    checkKeys(t, "schedule.", {"days", "hours", "timezone"});
    core::Schedule s;
    if (const toml::node* n = t.get("days")) {
      s.weekdays.clear();
      for (const auto& [text, e] : strings(*n, "schedule.days")) {
        const auto dash = text.find('-');
        const auto first = dayIndex(std::string_view(text).substr(0, dash));
        const auto last =
            dash == std::string::npos ? first : dayIndex(std::string_view(text).substr(dash + 1));
        if (!first || !last) {
          bad(*e, "schedule.days '" + text +
                      "' is not a day or day range (mon, tue, wed, thu, fri, sat, sun, "
                      "e.g. \"mon-fri\")");
        }
        // A range may wrap past Sunday: "fri-mon" is fri, sat, sun, mon.
        for (int i = *first;; i = (i + 1) % 7) {
          s.weekdays.insert(kDays[static_cast<std::size_t>(i)].second);
          if (i == *last) break;
        }
      }
      if (s.weekdays.empty()) bad(*n, "schedule.days must name at least one day");
    }
    if (const toml::node* n = t.get("hours")) {
      const std::string text = string(*n, "schedule.hours");
      const auto dash = text.find('-');
      const auto start =
          dash == std::string::npos ? std::nullopt : parseClock(text.substr(0, dash), false);
      const auto end =
          dash == std::string::npos ? std::nullopt : parseClock(text.substr(dash + 1), true);
      if (!start || !end) {
        bad(*n, "schedule.hours '" + text + "' is not a time range (e.g. \"06:00-18:00\")");
      }
      if (*start == *end) bad(*n, "schedule.hours '" + text + "' is an empty time range");
      s.startMinute = *start;
      s.endMinute = *end;
    }
    // The zone is required: silently assuming UTC would shift a plant's window by hours.
    const toml::node* zone = t.get("timezone");
    if (zone == nullptr) bad(t, "missing key 'schedule.timezone' (e.g. \"Europe/Berlin\")");
    s.timezone = string(*zone, "schedule.timezone");
    if (!isKnownTimeZone(s.timezone)) {
      bad(*zone, "schedule.timezone '" + s.timezone + "' is not a known IANA time zone");
    }
    return s;
  }

  core::Seconds duration(const toml::node& n, const std::string& key, core::Seconds min,
                         core::Seconds max) const {
    const std::string text = string(n, key);
    const auto d = text::parseDuration(text);
    if (!d) {
      bad(n, key + " '" + text + "' is not a duration (e.g. \"4h\", \"30m\", \"1h30m\")");
    }
    if (*d < min || *d > max) {
      bad(n, key + " must be between " + text::formatDuration(min) + " and " +
                 text::formatDuration(max));
    }
    return *d;
  }

  core::ApprovalRequirement approvals(const toml::node& n) const {
    core::ApprovalRequirement a;
    if (n.is_integer()) {
      const auto count = static_cast<int>(integer(n, "limits.approvals", 0, kMaxApprovals));
      // Zero approvals: nothing to collect, so no rule at all.
      a.rules = count == 0 ? std::vector<core::ApprovalRule>{}
                           : std::vector<core::ApprovalRule>{core::ApprovalRule{"", count}};
      return a;
    }
    if (!n.is_array()) {
      bad(n, "limits.approvals must be an integer or an array of { group, count } tables");
    }
    const toml::array& list = *n.as_array();
    if (list.empty()) bad(n, "limits.approvals must not be empty (write approvals = 0)");
    a.rules.clear();
    std::set<std::string> groups;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const toml::node& e = *list.get(i);
      const std::string key = "limits.approvals[" + std::to_string(i) + "]";
      if (!e.is_table()) bad(e, key + " must be a table like { group = \"safety\", count = 1 }");
      const toml::table& t = *e.as_table();
      checkKeys(t, key + ".", {"group", "count"});
      core::ApprovalRule r;
      if (const toml::node* g = t.get("group")) {
        r.group = string(*g, key + ".group");
        if (r.group.empty())
          bad(*g, key + ".group must not be empty (omit it for the owner group)");
      }
      if (const toml::node* c = t.get("count")) {
        r.count = static_cast<int>(integer(*c, key + ".count", 1, kMaxApprovals));
      }
      if (!groups.insert(r.group).second) {
        bad(e, key + " names " + (r.group.empty() ? "the owner group" : "group '" + r.group + "'") +
                   " twice");
      }
      a.rules.push_back(std::move(r));
    }
    if (a.total() > kMaxApprovals) {
      bad(n, "limits.approvals must add up to at most " + std::to_string(kMaxApprovals));
    }
    return a;
  }

  void readLimits(const toml::table& t, core::AccessLimits& l) const {
    checkKeys(t, "limits.",
              {"max_duration", "warning_period", "recording", "record_keystrokes", "mfa",
               "max_sessions_per_user", "max_sessions_per_asset", "approvals"});
    if (const toml::node* n = t.get("max_duration")) {
      l.maxDuration = duration(*n, "limits.max_duration", kMinDuration, kMaxDuration);
    }
    if (const toml::node* n = t.get("warning_period")) {
      l.warningPeriod = duration(*n, "limits.warning_period", core::Seconds{0}, kMaxWarning);
    }
    if (l.warningPeriod >= l.maxDuration) {
      const toml::node* at = t.get("warning_period");
      if (at == nullptr) at = t.get("max_duration");
      bad(at != nullptr ? *at : static_cast<const toml::node&>(t),
          "limits.warning_period (" + text::formatDuration(l.warningPeriod) +
              ") must be shorter than limits.max_duration (" + text::formatDuration(l.maxDuration) +
              ")");
    }
    if (const toml::node* n = t.get("recording")) {
      l.recordingRequired =
          word<bool>(*n, "limits.recording", {{"required", true}, {"off", false}});
    }
    if (const toml::node* n = t.get("record_keystrokes")) {
      l.recordKeystrokes = boolean(*n, "limits.record_keystrokes");
    }
    if (const toml::node* n = t.get("mfa")) {
      l.mfaRequired = word<bool>(*n, "limits.mfa", {{"required", true}, {"optional", false}});
    }
    if (const toml::node* n = t.get("max_sessions_per_user")) {
      l.maxSessionsPerUser =
          static_cast<int>(integer(*n, "limits.max_sessions_per_user", 1, kMaxSessions));
    }
    if (const toml::node* n = t.get("max_sessions_per_asset")) {
      l.maxSessionsPerAsset =
          static_cast<int>(integer(*n, "limits.max_sessions_per_asset", 1, kMaxSessions));
    }
    if (const toml::node* n = t.get("approvals")) l.approvals = approvals(*n);
  }

  void readSsh(const toml::table& t, core::SshOptions& o) const {
    checkKeys(t, "ssh.", {"sftp", "port_forwarding", "command_deny", "filter_shell_commands"});
    if (const toml::node* n = t.get("sftp")) o.sftp = boolean(*n, "ssh.sftp");
    if (const toml::node* n = t.get("port_forwarding")) {
      o.portForwarding = boolean(*n, "ssh.port_forwarding");
    }
    if (const toml::node* n = t.get("command_deny")) {
      for (auto& [pattern, e] : strings(*n, "ssh.command_deny")) {
        if (auto problem = globProblem(pattern)) {
          bad(*e, "ssh.command_deny pattern '" + pattern + "' is not a valid glob: " + *problem);
        }
        o.commandDeny.push_back(std::move(pattern));
      }
    }
    if (const toml::node* n = t.get("filter_shell_commands")) {
      o.filterShellCommands = boolean(*n, "ssh.filter_shell_commands");
    }
  }

  void readModbus(const toml::table& t, core::ModbusOptions& o) const {
    checkKeys(
        t, "modbus.",
        {"read_only", "function_codes", "unit_ids", "ranges", "writes", "max_requests_per_second"});
    if (const toml::node* n = t.get("max_requests_per_second")) {
      // 1..10000: 0 would refuse everything (leave the key out for no limit); no PLC serves
      // more than a few thousand requests a second.
      o.maxRequestsPerSecond =
          static_cast<int>(integer(*n, "modbus.max_requests_per_second", 1, 10000));
    }
    if (const toml::node* n = t.get("read_only")) o.readOnly = boolean(*n, "modbus.read_only");
    if (const toml::node* n = t.get("writes")) {
      o.writes = word<core::WriteMode>(*n, "modbus.writes",
                                       {{"deny", core::WriteMode::deny},
                                        {"allow", core::WriteMode::allow},
                                        {"approve", core::WriteMode::approve}});
    }
    // read_only and writes must agree, so that no reader of the grant can take the looser one.
    if (o.readOnly && o.writes != core::WriteMode::deny) {
      bad(*t.get("writes"), "modbus.writes allows writes but modbus.read_only is true");
    }
    if (!o.readOnly && o.writes == core::WriteMode::deny) {
      bad(*t.get("read_only"),
          "modbus.read_only = false needs modbus.writes = \"allow\" or \"approve\"");
    }
    if (const toml::node* n = t.get("function_codes")) {
      for (const toml::node& e : array(*n, "modbus.function_codes", "integers")) {
        const auto code = static_cast<int>(integer(e, "modbus.function_codes", 1, 127));
        if (o.readOnly && kModbusStateChangingCodes.contains(code)) {
          bad(e, "modbus.function_codes has " + std::to_string(code) +
                     ", which changes device state, but modbus.read_only is true");
        }
        o.functionCodes.insert(code);
      }
    }
    if (const toml::node* n = t.get("unit_ids")) {
      for (const toml::node& e : array(*n, "modbus.unit_ids", "integers")) {
        o.unitIds.insert(static_cast<int>(integer(e, "modbus.unit_ids", 0, 255)));
      }
    }
    if (const toml::node* n = t.get("ranges")) {
      for (const auto& [text, e] : strings(*n, "modbus.ranges")) {
        const auto r = parseAddressRange(text);
        if (!r) {
          bad(*e, "modbus.ranges '" + text +
                      "' is not an address range (e.g. \"0-99\" or \"100\", 0 to 65535)");
        }
        o.ranges.push_back(*r);
      }
    }
  }

  void readS7(const toml::table& t, core::S7Options& o) const {
    checkKeys(t, "s7.", {"read_only", "functions"});
    if (const toml::node* n = t.get("read_only")) o.readOnly = boolean(*n, "s7.read_only");
    if (const toml::node* n = t.get("functions")) {
      for (const toml::node& e : array(*n, "s7.functions", "integers")) {
        const auto code = static_cast<int>(integer(e, "s7.functions", 0, 255));
        if (o.readOnly && !kS7ReadOnlyFunctions.contains(code)) {
          bad(e, "s7.functions has " + hexByte(code) +
                     ", which can change the PLC's state, but s7.read_only is true");
        }
        o.functions.insert(code);
      }
      if (o.functions.empty()) bad(*n, "s7.functions must not be empty (leave it out instead)");
    }
  }

  static std::string hexByte(int v) {
    constexpr std::string_view kDigits = "0123456789ABCDEF";
    return std::string("0x") + kDigits[static_cast<std::size_t>((v >> 4) & 0xf)] +
           kDigits[static_cast<std::size_t>(v & 0xf)];
  }

  void readRdp(const toml::table& t, core::RdpOptions& o) const {
    checkKeys(t, "rdp.", {"clipboard", "drive", "printer", "audio"});
    if (const toml::node* n = t.get("clipboard")) {
      // true (both ways), false, or one way only: "to-target" (paste in) or "from-target"
      // (copy out).
      const auto way = n->value<std::string>();
      if (n->is_boolean()) {
        o.clipboardToTarget = o.clipboardFromTarget = *n->value<bool>();
      } else if (way == "to-target" || way == "from-target") {
        o.clipboardToTarget = way == "to-target";
        o.clipboardFromTarget = way == "from-target";
      } else {
        bad(*n, R"(rdp.clipboard must be true, false, "to-target" or "from-target")");
      }
    }
    if (const toml::node* n = t.get("drive")) o.drive = boolean(*n, "rdp.drive");
    if (const toml::node* n = t.get("printer")) o.printer = boolean(*n, "rdp.printer");
    if (const toml::node* n = t.get("audio")) o.audio = boolean(*n, "rdp.audio");
  }

  const std::string& source_;
  std::string label_;
};

std::string lineOf(const std::string& source, const toml::node& n) {
  return source + ":" + std::to_string(n.source().begin.line);
}

/// Appends `more` to `rules`; rule ids must stay unique.
std::optional<core::Error> append(std::vector<Rule>& rules, std::vector<Rule> more) {
  std::map<std::string, const Rule*> seen;
  for (const Rule& r : rules) seen.emplace(r.id, &r);
  for (const Rule& r : more) {
    const auto [it, fresh] = seen.emplace(r.id, &r);
    if (!fresh) {
      return core::Error{ErrorCode::invalid_argument, r.source + ": rule '" + r.id +
                                                          "': duplicate id (first defined at " +
                                                          it->second->source + ")"};
    }
  }
  if (rules.size() + more.size() > kMaxRules) {
    return core::Error{ErrorCode::invalid_argument,
                       "a policy set may hold at most " + std::to_string(kMaxRules) + " rules"};
  }
  for (Rule& r : more) rules.push_back(std::move(r));
  return std::nullopt;
}

core::Result<std::vector<Rule>> parseRules(std::string_view text, const std::string& source) {
  if (text.size() > kMaxPolicyBytes) {
    return fail(ErrorCode::invalid_argument, source + ": policy file is larger than " +
                                                 std::to_string(kMaxPolicyBytes) + " bytes");
  }
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return fail(ErrorCode::invalid_argument, source + ":" + std::to_string(e.source().begin.line) +
                                                 ": " + std::string(e.description()));
  }
  std::vector<Rule> rules;
  try {
    for (const auto& [key, node] : root) {
      if (key.str() != "rule") {
        return fail(ErrorCode::invalid_argument,
                    lineOf(source, node) + ": unknown key '" + std::string(key.str()) +
                        "' (a policy file holds only [[rule]] tables)");
      }
    }
    const toml::node* list = root.get("rule");
    if (list == nullptr) return rules;
    if (!list->is_array_of_tables()) {
      return fail(ErrorCode::invalid_argument,
                  lineOf(source, *list) + ": rule must be an array of tables ([[rule]])");
    }
    const toml::array& tables = *list->as_array();
    std::vector<Rule> parsed;
    for (std::size_t i = 0; i < tables.size(); ++i) {
      RuleReader reader(source, i);
      parsed.push_back(reader.read(*tables.get(i)->as_table()));
    }
    if (auto e = append(rules, std::move(parsed))) return *e;
  } catch (const Invalid& e) {
    return fail(ErrorCode::invalid_argument, e.message);
  }
  return rules;
}

}  // namespace

core::Result<PolicySet> PolicySet::parse(std::string_view text, const std::string& sourceName) {
  try {
    auto rules = parseRules(text, sourceName);
    if (!rules) return rules.error();
    return PolicySet(std::move(rules).value());
  } catch (const std::exception& e) {
    return fail(ErrorCode::internal, sourceName + ": cannot parse policy: " + e.what());
  }
}

core::Result<PolicySet> PolicySet::load(const std::vector<std::filesystem::path>& files) {
  try {
    std::vector<Rule> rules;
    for (const auto& file : files) {
      const std::string name = file.string();
      std::error_code ec;
      if (std::filesystem::is_directory(file, ec)) {
        return fail(ErrorCode::unavailable, "policy file " + name + " is a directory");
      }
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        return fail(ErrorCode::unavailable,
                    "cannot read policy file " + name + ": " + std::strerror(errno));
      }
      // Read at most one byte past the limit: enough to reject an oversized file without
      // reading all of it.
      std::string text(kMaxPolicyBytes + 1, '\0');
      in.read(text.data(), static_cast<std::streamsize>(text.size()));
      if (in.bad()) return fail(ErrorCode::unavailable, "cannot read policy file " + name);
      text.resize(static_cast<std::size_t>(in.gcount()));
      auto parsed = parseRules(text, name);
      if (!parsed) return parsed.error();
      if (auto e = append(rules, std::move(parsed).value())) return *e;
    }
    return PolicySet(std::move(rules));
  } catch (const std::exception& e) {
    return fail(ErrorCode::internal, std::string("cannot load policies: ") + e.what());
  }
}

}  // namespace conduit::policies
