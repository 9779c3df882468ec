#include "text.hpp"

#include <cstdint>

#include "conduit/policies/schedule.hpp"

namespace conduit::policies::text {

std::optional<core::Seconds> parseDuration(std::string_view s) {
  // Each component is at most 6 digits, so the sum cannot overflow; ranges are checked by the
  // caller.
  constexpr std::size_t kMaxDigits = 6;
  constexpr std::string_view kUnits = "hms";
  constexpr std::int64_t kUnitSeconds[] = {3600, 60, 1};
  if (s.empty()) return std::nullopt;
  std::int64_t total = 0;
  std::size_t nextUnit = 0;  // units must come in the order h, m, s
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t digits = 0;
    std::int64_t value = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (++digits > kMaxDigits) return std::nullopt;
      value = value * 10 + (s[i] - '0');
      ++i;
    }
    if (digits == 0 || i == s.size()) return std::nullopt;
    const auto unit = kUnits.find(s[i], nextUnit);
    if (unit == std::string_view::npos) return std::nullopt;
    total += value * kUnitSeconds[unit];
    nextUnit = unit + 1;
    ++i;
  }
  return core::Seconds{total};
}

std::string formatDuration(core::Seconds d) {
  auto s = d.count();
  if (s == 0) return "0s";
  std::string out;
  if (s < 0) {
    out = "-";
    s = -s;
  }
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s % 3600 >= 60) out += std::to_string(s % 3600 / 60) + "m";
  if (s % 60 != 0) out += std::to_string(s % 60) + "s";
  return out;
}

std::string describeApprovals(const core::ApprovalRequirement& a) {
  if (a.total() == 0) return "no approval";
  std::string out;
  for (const auto& r : a.rules) {
    if (r.count == 0) continue;
    if (!out.empty()) out += " + ";
    out += std::to_string(r.count);
    if (a.rules.size() == 1) out += r.count == 1 ? " approval" : " approvals";
    out += " from " + (r.group.empty() ? std::string("the owner group") : r.group);
  }
  return out;
}

namespace {

std::string onOff(bool b) {
  return b ? "on" : "off";
}

}  // namespace

std::string describeLimits(const core::AccessLimits& l, core::Protocol protocol) {
  std::string out = "max " + formatDuration(l.maxDuration) + ", " + describeApprovals(l.approvals) +
                    ", recording " + (l.recordingRequired ? "required" : "off") + ", MFA " +
                    (l.mfaRequired ? "required" : "optional");
  if (l.recordKeystrokes) out += ", keystrokes recorded";
  if (l.schedule) out += ", schedule " + describeSchedule(*l.schedule);
  switch (protocol) {
    case core::Protocol::ssh:
      out += ", sftp " + onOff(l.ssh.sftp) + ", port forwarding " + onOff(l.ssh.portForwarding);
      if (!l.ssh.commandDeny.empty()) {
        out += ", denied commands " + list(l.ssh.commandDeny, [](const auto& c) { return c; });
      }
      break;
    case core::Protocol::modbus:
      out += l.modbus.readOnly ? ", read-only"
                               : ", writes " + std::string(core::writeModeName(l.modbus.writes));
      if (!l.modbus.functionCodes.empty()) {
        out += ", function codes " +
               list(l.modbus.functionCodes, [](int c) { return std::to_string(c); });
      }
      if (!l.modbus.unitIds.empty()) {
        out += ", unit ids " + list(l.modbus.unitIds, [](int u) { return std::to_string(u); });
      }
      if (!l.modbus.ranges.empty()) {
        out += ", ranges " + list(l.modbus.ranges, [](const core::AddressRange& r) {
                 return std::to_string(r.first) + "-" + std::to_string(r.last);
               });
      }
      if (l.modbus.maxRequestsPerSecond > 0) {
        out += ", at most " + std::to_string(l.modbus.maxRequestsPerSecond) + " requests/s";
      }
      break;
    case core::Protocol::rdp:
      out += ", clipboard " +
             (l.rdp.clipboardToTarget == l.rdp.clipboardFromTarget
                  ? onOff(l.rdp.clipboard())
                  : std::string(l.rdp.clipboardToTarget ? "to the target only"
                                                        : "from the target only")) +
             ", drive " + onOff(l.rdp.drive) + ", printer " + onOff(l.rdp.printer) + ", audio " +
             onOff(l.rdp.audio);
      break;
    case core::Protocol::s7:
      out += l.s7.readOnly ? ", read-only" : ", writes allowed";
      if (!l.s7.functions.empty()) {
        out += ", functions " + list(l.s7.functions, [](int c) {
                 constexpr std::string_view kDigits = "0123456789ABCDEF";
                 return std::string("0x") + kDigits[static_cast<std::size_t>((c >> 4) & 0xf)] +
                        kDigits[static_cast<std::size_t>(c & 0xf)];
               });
      }
      break;
    case core::Protocol::dnp3:
    case core::Protocol::opcua:
    case core::Protocol::tcp:
      break;
  }
  return out;
}

}  // namespace conduit::policies::text
