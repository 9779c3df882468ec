#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/clock.hpp"

namespace conduit::core {

/// `count` approvals from distinct members of `group`. An empty group means the asset's
/// owner group.
struct ApprovalRule {
  std::string group;
  int count = 1;
  bool operator==(const ApprovalRule&) const = default;
};

/// N-of-M: every rule must be met, by distinct approvers (one approver counts toward one rule).
/// "Two engineers" is {{"", 2}}; "one from controls and one from safety" is
/// {{"controls", 1}, {"safety", 1}}.
struct ApprovalRequirement {
  std::vector<ApprovalRule> rules{ApprovalRule{}};
  int total() const;
  bool operator==(const ApprovalRequirement&) const = default;
};

/// When access may be used: weekdays and a daily time range in a named IANA time zone.
/// Evaluated by the policy engine (it owns the time-zone database).
struct Schedule {
  std::set<int> weekdays{0, 1, 2, 3, 4, 5, 6};  // 0 = Sunday ... 6 = Saturday
  int startMinute = 0;                          // minutes after local midnight, inclusive
  int endMinute = 24 * 60;                      // exclusive
  std::string timezone = "UTC";
  bool operator==(const Schedule&) const = default;
};

/// SSH scope a grant carries.
struct SshOptions {
  bool sftp = false;  // file transfer into OT hosts only where policy says so
  bool portForwarding = false;
  std::vector<std::string> commandDeny;  // glob patterns, matched against exec commands
  bool filterShellCommands = false;      // also match typed shell lines (best effort)
  bool operator==(const SshOptions&) const = default;
};

/// An inclusive range of Modbus addresses (registers or coils).
struct AddressRange {
  int first = 0;
  int last = 65535;
  bool operator==(const AddressRange&) const = default;
};

enum class WriteMode { deny, allow, approve };

/// "deny", "allow" or "approve".
std::string_view writeModeName(WriteMode m) noexcept;
std::optional<WriteMode> parseWriteMode(std::string_view name) noexcept;

/// Modbus scope a grant carries.
struct ModbusOptions {
  bool readOnly = true;
  std::set<int> functionCodes;       // empty: the class defaults (reads; writes unless read-only)
  std::set<int> unitIds;             // empty: any unit
  std::vector<AddressRange> ranges;  // empty: any address
  WriteMode writes = WriteMode::deny;
  // Per asset, across every connection to it; 0: no limit.
  int maxRequestsPerSecond = 0;
  bool operator==(const ModbusOptions&) const = default;
};

/// S7comm scope a grant carries (classic S7 on ISO-on-TCP, port 102; see docs/tunnels.md).
struct S7Options {
  bool readOnly = true;
  // Job function codes (e.g. 0x04 read var, 0x05 write var, 0x1A request download). Empty: the
  // class defaults (read var and upload; write var unless read-only); download, PLC control,
  // PLC stop and CPU services only when listed. Setup communication is always allowed.
  std::set<int> functions;
  bool operator==(const S7Options&) const = default;
};

/// RDP virtual channels a grant allows. Everything off unless policy says otherwise.
struct RdpOptions {
  // Clipboard text, each way on its own: to the target (the vendor pastes there) and from it
  // (the vendor copies there). Policy `clipboard = true` is both.
  bool clipboardToTarget = false;
  bool clipboardFromTarget = false;
  bool drive = false;
  bool printer = false;
  bool audio = false;
  /// Whether the clipboard channel opens at all (either way).
  bool clipboard() const { return clipboardToTarget || clipboardFromTarget; }
  bool operator==(const RdpOptions&) const = default;
};

/// What an allowing policy rule lets a request or session do. Defaults are the strict choice.
struct AccessLimits {
  Seconds maxDuration{4 * 3600};
  ApprovalRequirement approvals;
  bool recordingRequired = true;
  bool mfaRequired = true;
  bool recordKeystrokes = false;
  int maxSessionsPerUser = 1;
  std::optional<int> maxSessionsPerAsset;  // unset: the asset's own limit
  Seconds warningPeriod{300};
  std::optional<Schedule> schedule;
  SshOptions ssh;
  ModbusOptions modbus;
  S7Options s7;
  RdpOptions rdp;
  bool operator==(const AccessLimits&) const = default;
};

}  // namespace conduit::core
