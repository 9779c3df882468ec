#include "notify_state.hpp"

namespace conduit::notify {

core::Result<std::optional<std::int64_t>> NotifyState::cursor(const std::string& webhook) {
  auto stmt = db_.prepare("SELECT last_seq FROM notify_cursor WHERE webhook = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, webhook);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::int64_t>{};
  return std::optional<std::int64_t>{stmt->columnInt(0)};
}

core::Status NotifyState::setCursor(const std::string& webhook, std::int64_t lastSeq) {
  auto stmt = db_.prepare(
      "INSERT INTO notify_cursor(webhook, last_seq) VALUES(?1, ?2) "
      "ON CONFLICT(webhook) DO UPDATE SET last_seq = excluded.last_seq");
  if (!stmt) return stmt.error();
  return stmt->bind(1, webhook).bind(2, lastSeq).run();
}

core::Result<std::vector<std::int64_t>> NotifyState::grantsEndingSoon(core::TimePoint now,
                                                                      core::TimePoint until) {
  auto stmt = db_.prepare(
      "SELECT id FROM grants WHERE state = 'active' AND not_after > ?1 AND not_after <= ?2 "
      "AND id NOT IN (SELECT grant_id FROM notify_window_warned) ORDER BY not_after, id");
  if (!stmt) return stmt.error();
  stmt->bind(1, std::int64_t{now.time_since_epoch().count()})
      .bind(2, std::int64_t{until.time_since_epoch().count()});
  std::vector<std::int64_t> out;
  while (true) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(stmt->columnInt(0));
  }
  return out;
}

core::Status NotifyState::markWarned(std::int64_t grantId, core::TimePoint at) {
  auto stmt = db_.prepare(
      "INSERT INTO notify_window_warned(grant_id, at) VALUES(?1, ?2) "
      "ON CONFLICT(grant_id) DO NOTHING");
  if (!stmt) return stmt.error();
  return stmt->bind(1, grantId).bind(2, core::formatTime(at)).run();
}

}  // namespace conduit::notify
