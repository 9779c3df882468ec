#include "conduit/store/portal_repository.hpp"

#include "row_helpers.hpp"

namespace conduit::store {

using core::ErrorCode;
using core::fail;
using namespace detail;

namespace {

// Columns: id_hash, user_id, stage, csrf_token, source, created_at, last_seen_at.
WebSessionRow readSession(const Statement& s) {
  return {s.columnBlob(0), s.columnInt(1),           s.columnText(2),         s.columnText(3),
          s.columnText(4), fromUnix(s.columnInt(5)), fromUnix(s.columnInt(6))};
}

constexpr const char* kTokenColumns =
    "SELECT id, user_id, name, token_hash, roles, created_at, last_used_at, revoked_at "
    "FROM api_tokens ";

ApiTokenRow readToken(const Statement& s) {
  return {s.columnInt(0),  s.columnInt(1),           s.columnText(2),    s.columnBlob(3),
          s.columnText(4), fromUnix(s.columnInt(5)), optionalTime(s, 6), optionalTime(s, 7)};
}

constexpr const char* kSessionColumns =
    "SELECT id, user_name, asset_name, protocol, source, grant_id, started_at, until_at, "
    "ended_at, end_reason, bytes_to_target, bytes_to_vendor FROM sessions ";

SessionRow readLive(const Statement& s) {
  SessionRow r;
  r.id = s.columnText(0);
  r.user = s.columnText(1);
  r.asset = s.columnText(2);
  r.protocol = s.columnText(3);
  r.source = s.columnText(4);
  if (!s.columnIsNull(5)) r.grantId = s.columnInt(5);
  r.startedAt = fromUnix(s.columnInt(6));
  r.until = fromUnix(s.columnInt(7));
  r.endedAt = optionalTime(s, 8);
  r.endReason = s.columnText(9);
  r.bytesToTarget = s.columnInt(10);
  r.bytesToVendor = s.columnInt(11);
  return r;
}

template <typename T, typename Read>
core::Result<std::vector<T>> readAll(Statement& s, Read read) {
  std::vector<T> out;
  while (true) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(read(s));
  }
}

template <typename T, typename Read>
core::Result<T> readOne(Statement& s, Read read, const std::string& what) {
  auto row = s.step();
  if (!row) return row.error();
  if (!*row) return fail(ErrorCode::not_found, what + " not found");
  return read(s);
}

}  // namespace

core::Status PortalRepository::insertSession(const WebSessionRow& r) {
  auto s = db_.prepare(
      "INSERT INTO web_sessions(id_hash, user_id, stage, csrf_token, source, created_at, "
      "last_seen_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!s) return s.error();
  s->bindBlob(1, r.idHash.data(), r.idHash.size())
      .bind(2, r.userId)
      .bind(3, r.stage)
      .bind(4, r.csrfToken)
      .bind(5, r.source)
      .bind(6, unix(r.createdAt))
      .bind(7, unix(r.lastSeenAt));
  return s->run();
}

core::Result<WebSessionRow> PortalRepository::session(const std::vector<unsigned char>& idHash) {
  auto s = db_.prepare(
      "SELECT id_hash, user_id, stage, csrf_token, source, created_at, last_seen_at "
      "FROM web_sessions WHERE id_hash = ?1");
  if (!s) return s.error();
  s->bindBlob(1, idHash.data(), idHash.size());
  return readOne<WebSessionRow>(*s, readSession, "session");
}

core::Status PortalRepository::touchSession(const std::vector<unsigned char>& idHash,
                                            core::TimePoint at) {
  auto s = db_.prepare("UPDATE web_sessions SET last_seen_at = ?2 WHERE id_hash = ?1");
  if (!s) return s.error();
  s->bindBlob(1, idHash.data(), idHash.size()).bind(2, unix(at));
  return runOne(db_, *s, "session");
}

core::Status PortalRepository::removeSession(const std::vector<unsigned char>& idHash) {
  auto s = db_.prepare("DELETE FROM web_sessions WHERE id_hash = ?1");
  if (!s) return s.error();
  s->bindBlob(1, idHash.data(), idHash.size());
  return s->run();
}

core::Result<std::int64_t> PortalRepository::removeSessionsOf(std::int64_t userId) {
  auto s = db_.prepare("DELETE FROM web_sessions WHERE user_id = ?1");
  if (!s) return s.error();
  if (auto st = s->bind(1, userId).run(); !st) return st.error();
  return db_.changes();
}

core::Status PortalRepository::purgeSessions(core::TimePoint idleCutoff,
                                             core::TimePoint absoluteCutoff) {
  auto s = db_.prepare("DELETE FROM web_sessions WHERE last_seen_at < ?1 OR created_at < ?2");
  if (!s) return s.error();
  return s->bind(1, unix(idleCutoff)).bind(2, unix(absoluteCutoff)).run();
}

core::Result<std::int64_t> PortalRepository::insertToken(const ApiTokenRow& r) {
  auto s = db_.prepare(
      "INSERT INTO api_tokens(user_id, name, token_hash, roles, created_at) "
      "VALUES(?1, ?2, ?3, ?4, ?5)");
  if (!s) return s.error();
  s->bind(1, r.userId)
      .bind(2, r.name)
      .bindBlob(3, r.tokenHash.data(), r.tokenHash.size())
      .bind(4, r.roles)
      .bind(5, unix(r.createdAt));
  if (auto st = s->run(); !st) return st.error();
  return db_.lastInsertId();
}

core::Result<ApiTokenRow> PortalRepository::tokenByHash(const std::vector<unsigned char>& hash) {
  auto s = db_.prepare(std::string(kTokenColumns) + "WHERE token_hash = ?1");
  if (!s) return s.error();
  s->bindBlob(1, hash.data(), hash.size());
  return readOne<ApiTokenRow>(*s, readToken, "token");
}

core::Result<ApiTokenRow> PortalRepository::token(std::int64_t id) {
  auto s = db_.prepare(std::string(kTokenColumns) + "WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, id);
  return readOne<ApiTokenRow>(*s, readToken, "token " + std::to_string(id));
}

core::Result<std::vector<ApiTokenRow>> PortalRepository::tokensOf(std::int64_t userId) {
  auto s = db_.prepare(std::string(kTokenColumns) +
                       "WHERE user_id = ?1 AND revoked_at IS NULL ORDER BY id");
  if (!s) return s.error();
  s->bind(1, userId);
  return readAll<ApiTokenRow>(*s, readToken);
}

core::Status PortalRepository::touchToken(std::int64_t id, core::TimePoint at) {
  auto s = db_.prepare("UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1");
  if (!s) return s.error();
  return s->bind(1, id).bind(2, unix(at)).run();
}

core::Status PortalRepository::revokeToken(std::int64_t id, core::TimePoint at) {
  auto s =
      db_.prepare("UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL");
  if (!s) return s.error();
  s->bind(1, id).bind(2, unix(at));
  return runOne(db_, *s, "token " + std::to_string(id));
}

core::Status SessionRepository::started(const SessionRow& r) {
  auto s = db_.prepare(
      "INSERT INTO sessions(id, user_name, asset_name, protocol, source, grant_id, started_at, "
      "until_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!s) return s.error();
  s->bind(1, r.id).bind(2, r.user).bind(3, r.asset).bind(4, r.protocol).bind(5, r.source);
  if (r.grantId) {
    s->bind(6, *r.grantId);
  } else {
    s->bindNull(6);
  }
  s->bind(7, unix(r.startedAt)).bind(8, unix(r.until));
  return s->run();
}

core::Status SessionRepository::ended(const std::string& id, core::TimePoint at,
                                      const std::string& reason, std::int64_t bytesToTarget,
                                      std::int64_t bytesToVendor) {
  auto s = db_.prepare(
      "UPDATE sessions SET ended_at = ?2, end_reason = ?3, bytes_to_target = ?4, "
      "bytes_to_vendor = ?5 WHERE id = ?1 AND ended_at IS NULL");
  if (!s) return s.error();
  s->bind(1, id).bind(2, unix(at)).bind(3, reason).bind(4, bytesToTarget).bind(5, bytesToVendor);
  return runOne(db_, *s, "open session " + id);
}

core::Result<std::vector<SessionRow>> SessionRepository::open() {
  auto s =
      db_.prepare(std::string(kSessionColumns) + "WHERE ended_at IS NULL ORDER BY started_at, id");
  if (!s) return s.error();
  return readAll<SessionRow>(*s, readLive);
}

core::Result<SessionRow> SessionRepository::session(const std::string& id) {
  auto s = db_.prepare(std::string(kSessionColumns) + "WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, id);
  return readOne<SessionRow>(*s, readLive, "session " + id);
}

core::Result<std::int64_t> SessionRepository::closeLeftovers(core::TimePoint at,
                                                             const std::string& reason) {
  auto s = db_.prepare("UPDATE sessions SET ended_at = ?1, end_reason = ?2 WHERE ended_at IS NULL");
  if (!s) return s.error();
  if (auto st = s->bind(1, unix(at)).bind(2, reason).run(); !st) return st.error();
  return db_.changes();
}

}  // namespace conduit::store
