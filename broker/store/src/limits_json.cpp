#include <boost/json.hpp>

#include "conduit/store/access_repository.hpp"

namespace conduit::store {

namespace json = boost::json;
using core::AccessLimits;

namespace {

template <typename T>
json::array toArray(const T& values) {
  json::array a;
  for (const auto& v : values) a.emplace_back(v);
  return a;
}

}  // namespace

std::string limitsToJson(const AccessLimits& l) {
  json::object o;
  o["max_duration_s"] = l.maxDuration.count();
  json::array approvals;
  for (const auto& r : l.approvals.rules)
    approvals.push_back({{"group", r.group}, {"count", r.count}});
  o["approvals"] = std::move(approvals);
  o["recording_required"] = l.recordingRequired;
  o["mfa_required"] = l.mfaRequired;
  o["record_keystrokes"] = l.recordKeystrokes;
  o["max_sessions_per_user"] = l.maxSessionsPerUser;
  if (l.maxSessionsPerAsset) o["max_sessions_per_asset"] = *l.maxSessionsPerAsset;
  o["warning_period_s"] = l.warningPeriod.count();
  if (l.schedule) {
    o["schedule"] = {{"weekdays", toArray(l.schedule->weekdays)},
                     {"start_minute", l.schedule->startMinute},
                     {"end_minute", l.schedule->endMinute},
                     {"timezone", l.schedule->timezone}};
  }
  o["ssh"] = {{"sftp", l.ssh.sftp},
              {"port_forwarding", l.ssh.portForwarding},
              {"command_deny", toArray(l.ssh.commandDeny)},
              {"filter_shell_commands", l.ssh.filterShellCommands}};
  json::array ranges;
  for (const auto& r : l.modbus.ranges) ranges.push_back({{"first", r.first}, {"last", r.last}});
  o["modbus"] = {{"read_only", l.modbus.readOnly},
                 {"function_codes", toArray(l.modbus.functionCodes)},
                 {"unit_ids", toArray(l.modbus.unitIds)},
                 {"ranges", std::move(ranges)},
                 {"writes", core::writeModeName(l.modbus.writes)},
                 {"max_requests_per_second", l.modbus.maxRequestsPerSecond}};
  o["s7"] = {{"read_only", l.s7.readOnly}, {"functions", toArray(l.s7.functions)}};
  // "clipboard" for readers from before the two ways: true only for both ways, so such a reader
  // never lets a one-way grant pass the other way.
  o["rdp"] = {{"clipboard", l.rdp.clipboardToTarget && l.rdp.clipboardFromTarget},
              {"clipboard_to_target", l.rdp.clipboardToTarget},
              {"clipboard_from_target", l.rdp.clipboardFromTarget},
              {"drive", l.rdp.drive},
              {"printer", l.rdp.printer},
              {"audio", l.rdp.audio}};
  return json::serialize(o);
}

core::Result<AccessLimits> limitsFromJson(const std::string& text) {
  try {
    const json::object o = json::parse(text).as_object();
    AccessLimits l;
    l.maxDuration = core::Seconds{o.at("max_duration_s").to_number<std::int64_t>()};
    l.approvals.rules.clear();
    for (const auto& r : o.at("approvals").as_array()) {
      l.approvals.rules.push_back(core::ApprovalRule{json::value_to<std::string>(r.at("group")),
                                                     r.at("count").to_number<int>()});
    }
    l.recordingRequired = o.at("recording_required").as_bool();
    l.mfaRequired = o.at("mfa_required").as_bool();
    l.recordKeystrokes = o.at("record_keystrokes").as_bool();
    l.maxSessionsPerUser = o.at("max_sessions_per_user").to_number<int>();
    if (const auto* v = o.if_contains("max_sessions_per_asset"))
      l.maxSessionsPerAsset = v->to_number<int>();
    l.warningPeriod = core::Seconds{o.at("warning_period_s").to_number<std::int64_t>()};
    if (const auto* s = o.if_contains("schedule")) {
      core::Schedule sch;
      sch.weekdays.clear();
      for (const auto& d : s->at("weekdays").as_array()) sch.weekdays.insert(d.to_number<int>());
      sch.startMinute = s->at("start_minute").to_number<int>();
      sch.endMinute = s->at("end_minute").to_number<int>();
      sch.timezone = json::value_to<std::string>(s->at("timezone"));
      l.schedule = sch;
    }
    const auto& ssh = o.at("ssh");
    l.ssh.sftp = ssh.at("sftp").as_bool();
    l.ssh.portForwarding = ssh.at("port_forwarding").as_bool();
    l.ssh.commandDeny = json::value_to<std::vector<std::string>>(ssh.at("command_deny"));
    l.ssh.filterShellCommands = ssh.at("filter_shell_commands").as_bool();
    const auto& mb = o.at("modbus");
    l.modbus.readOnly = mb.at("read_only").as_bool();
    for (const auto& c : mb.at("function_codes").as_array())
      l.modbus.functionCodes.insert(c.to_number<int>());
    for (const auto& c : mb.at("unit_ids").as_array()) l.modbus.unitIds.insert(c.to_number<int>());
    for (const auto& r : mb.at("ranges").as_array()) {
      l.modbus.ranges.push_back({r.at("first").to_number<int>(), r.at("last").to_number<int>()});
    }
    const auto writes = json::value_to<std::string>(mb.at("writes"));
    l.modbus.writes = core::parseWriteMode(writes).value_or(core::WriteMode::deny);
    // Grants stored before these keys existed: no rate limit, and the strict S7 default.
    if (const auto* rate = mb.as_object().if_contains("max_requests_per_second")) {
      l.modbus.maxRequestsPerSecond = rate->to_number<int>();
    }
    if (const auto* s7 = o.if_contains("s7")) {
      l.s7.readOnly = s7->at("read_only").as_bool();
      for (const auto& c : s7->at("functions").as_array())
        l.s7.functions.insert(c.to_number<int>());
    }
    const auto& rdp = o.at("rdp");
    // Grants stored before the clipboard had a direction: "clipboard" was both ways.
    l.rdp.clipboardToTarget = l.rdp.clipboardFromTarget = rdp.at("clipboard").as_bool();
    if (const auto* in = rdp.as_object().if_contains("clipboard_to_target")) {
      l.rdp.clipboardToTarget = in->as_bool();
    }
    if (const auto* out = rdp.as_object().if_contains("clipboard_from_target")) {
      l.rdp.clipboardFromTarget = out->as_bool();
    }
    l.rdp.drive = rdp.at("drive").as_bool();
    l.rdp.printer = rdp.at("printer").as_bool();
    l.rdp.audio = rdp.at("audio").as_bool();
    return l;
  } catch (const std::exception& e) {
    return core::fail(core::ErrorCode::corrupt,
                      std::string("stored limits are unreadable: ") + e.what());
  }
}

}  // namespace conduit::store
