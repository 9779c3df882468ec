#include "conduit/store/audit_log.hpp"

#include <boost/json.hpp>

#include "conduit/store/database.hpp"

namespace conduit::store {

using core::AuditEvent;

namespace {

AuditEvent readEvent(const Statement& s) {
  AuditEvent e;
  e.seq = s.columnInt(0);
  e.time = core::TimePoint{core::Seconds{s.columnInt(1)}};
  e.draft.actor = s.columnText(2);
  e.draft.source = s.columnText(3);
  e.draft.category = s.columnText(4);
  e.draft.type = s.columnText(5);
  e.draft.target = s.columnText(6);
  e.draft.outcome =
      s.columnText(7) == "success" ? core::AuditOutcome::success : core::AuditOutcome::failure;
  e.draft.details = s.columnText(8);
  e.prevHash = s.columnText(9);
  e.hash = s.columnText(10);
  return e;
}

constexpr const char* kColumns =
    "seq, time, actor, source, category, type, target, outcome, details, prev_hash, hash";

}  // namespace

core::Result<AuditEvent> AuditLog::append(const core::AuditDraft& draft, core::TimePoint time) {
  auto last = db_.prepare("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1");
  if (!last) return last.error();
  auto row = last->step();
  if (!row) return row.error();
  const std::int64_t prevSeq = *row ? last->columnInt(0) : 0;
  const std::string prevHash = *row ? last->columnText(1) : core::genesisHash();
  AuditEvent e = core::chainEvent(draft, time, prevSeq, prevHash);
  auto insert = db_.prepare(
      "INSERT INTO audit_events(seq, time, actor, source, category, type, target, outcome, "
      "details, prev_hash, hash) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  if (!insert) return insert.error();
  insert->bind(1, e.seq)
      .bind(2, std::int64_t{e.time.time_since_epoch().count()})
      .bind(3, e.draft.actor)
      .bind(4, e.draft.source)
      .bind(5, e.draft.category)
      .bind(6, e.draft.type)
      .bind(7, e.draft.target)
      .bind(8, core::auditOutcomeName(e.draft.outcome))
      .bind(9, e.draft.details)
      .bind(10, e.prevHash)
      .bind(11, e.hash);
  if (auto st = insert->run(); !st) {
    return core::fail(st.error().code, "cannot write audit event: " + st.error().message);
  }
  return e;
}

core::Result<std::vector<AuditEvent>> AuditLog::list(std::optional<core::TimePoint> since,
                                                     std::optional<core::TimePoint> until) {
  auto stmt = db_.prepare(std::string("SELECT ") + kColumns +
                          " FROM audit_events WHERE time >= ?1 AND time < ?2 ORDER BY seq");
  if (!stmt) return stmt.error();
  stmt->bind(1, since ? std::int64_t{since->time_since_epoch().count()} : INT64_MIN)
      .bind(2, until ? std::int64_t{until->time_since_epoch().count()} : INT64_MAX);
  std::vector<AuditEvent> out;
  while (true) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(readEvent(*stmt));
  }
  return out;
}

core::Result<std::vector<AuditEvent>> AuditLog::after(std::int64_t afterSeq, std::int64_t limit) {
  auto stmt = db_.prepare(std::string("SELECT ") + kColumns +
                          " FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2");
  if (!stmt) return stmt.error();
  stmt->bind(1, afterSeq).bind(2, limit);
  std::vector<AuditEvent> out;
  while (true) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(readEvent(*stmt));
  }
  return out;
}

core::Result<std::int64_t> AuditLog::lastSeq() {
  auto stmt = db_.prepare("SELECT coalesce(max(seq), 0) FROM audit_events");
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  return stmt->columnInt(0);
}

core::Result<std::optional<core::ChainBreak>> AuditLog::verify() {
  // Stored order is rowid order; seq is the rowid, so an edited seq shows as reordering.
  auto all = list();
  if (!all) return all.error();
  return core::verifyChain(*all);
}

core::Result<std::int64_t> AuditLog::count() {
  auto stmt = db_.prepare("SELECT count(*) FROM audit_events");
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  return stmt->columnInt(0);
}

std::string auditEventJsonLine(const core::AuditEvent& e) {
  boost::json::object o;
  o["seq"] = e.seq;
  o["time"] = core::formatTime(e.time);
  o["actor"] = e.draft.actor;
  o["source"] = e.draft.source;
  o["category"] = e.draft.category;
  o["type"] = e.draft.type;
  o["target"] = e.draft.target;
  o["outcome"] = core::auditOutcomeName(e.draft.outcome);
  boost::system::error_code ec;
  auto details = boost::json::parse(e.draft.details, ec);
  o["details"] = ec ? boost::json::value(e.draft.details) : details;
  o["details_text"] = e.draft.details;  // the exact text hashed, for independent verification
  o["prev_hash"] = e.prevHash;
  o["hash"] = e.hash;
  return boost::json::serialize(o);
}

}  // namespace conduit::store
