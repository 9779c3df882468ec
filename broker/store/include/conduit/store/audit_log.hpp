#pragma once

#include <optional>
#include <vector>

#include "conduit/core/audit.hpp"
#include "conduit/core/result.hpp"

namespace conduit::store {

class Database;

/// The append-only, hash-chained audit table. Append inside the same transaction as the change
/// it records: if the append fails, the caller rolls back and the change does not happen.
class AuditLog {
 public:
  explicit AuditLog(Database& db) : db_(db) {}

  /// Chains and stores one event; returns it with seq and hashes.
  core::Result<core::AuditEvent> append(const core::AuditDraft& draft, core::TimePoint time);

  /// Events with since <= time < until (either bound optional), in chain order.
  core::Result<std::vector<core::AuditEvent>> list(std::optional<core::TimePoint> since = {},
                                                   std::optional<core::TimePoint> until = {});

  /// Up to `limit` events with seq > afterSeq, in chain order (for readers that tail the log).
  core::Result<std::vector<core::AuditEvent>> after(std::int64_t afterSeq, std::int64_t limit);

  /// The seq of the newest event, 0 for an empty log.
  core::Result<std::int64_t> lastSeq();

  /// Reads the whole chain in stored order and verifies it; nullopt means intact.
  core::Result<std::optional<core::ChainBreak>> verify();

  /// Number of events.
  core::Result<std::int64_t> count();

 private:
  Database& db_;
};

/// One event as a JSON line for SIEMs and auditors: every field, the exact details text that was
/// hashed, and prev_hash/hash, so the chain can be verified independently of Conduit.
std::string auditEventJsonLine(const core::AuditEvent& e);

}  // namespace conduit::store
