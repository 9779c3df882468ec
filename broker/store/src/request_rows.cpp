// Access requests, votes and grants.
#include "conduit/store/access_repository.hpp"
#include "row_helpers.hpp"

namespace conduit::store {

using core::ErrorCode;
using core::fail;
using namespace detail;

namespace {

constexpr const char* kRequestColumns =
    "r.id, r.requester_id, u.username, r.asset_id, a.name, r.owner_group, r.protocols, "
    "r.window_start, r.duration, r.reason, r.ticket, r.state, r.created_at, r.decided_at, "
    "r.policy_rule, r.limits";

constexpr const char* kGrantColumns =
    "g.id, g.request_id, g.user_id, g.asset_id, a.name, g.protocols, g.not_before, g.not_after, "
    "g.state, g.state_reason, g.limits";

core::Result<core::Grant> readGrant(const Statement& s) {
  core::Grant g;
  g.id = s.columnInt(0);
  g.requestId = s.columnInt(1);
  g.userId = s.columnInt(2);
  g.assetId = s.columnInt(3);
  g.assetName = s.columnText(4);
  g.protocols = parseProtocols(s.columnText(5));
  g.notBefore = fromUnix(s.columnInt(6));
  g.notAfter = fromUnix(s.columnInt(7));
  g.state = core::parseGrantState(s.columnText(8)).value_or(core::GrantState::revoked);
  g.stateReason = s.columnText(9);
  auto limits = limitsFromJson(s.columnText(10));
  if (!limits) return limits.error();
  g.limits = std::move(*limits);
  return g;
}

}  // namespace

core::Result<std::int64_t> AccessRepository::insertRequest(const core::AccessRequest& r) {
  auto s = db_.prepare(
      "INSERT INTO access_requests(requester_id, asset_id, owner_group, protocols, window_start, "
      "duration, reason, ticket, state, created_at, decided_at, policy_rule, limits) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
  if (!s) return s.error();
  s->bind(1, r.requesterId)
      .bind(2, r.assetId)
      .bind(3, r.ownerGroup)
      .bind(4, protocolsText(r.protocols))
      .bind(5, unix(r.windowStart))
      .bind(6, std::int64_t{r.duration.count()})
      .bind(7, r.reason)
      .bind(8, r.ticket)
      .bind(9, core::requestStateName(r.state))
      .bind(10, unix(r.createdAt))
      .bind(12, r.policyRule)
      .bind(13, limitsToJson(r.limits));
  bindOptionalTime(*s, 11, r.decidedAt);
  if (auto st = s->run(); !st) return st.error();
  return db_.lastInsertId();
}

core::Result<core::AccessRequest> AccessRepository::loadRequest(std::int64_t id) {
  auto s = db_.prepare(std::string("SELECT ") + kRequestColumns +
                       " FROM access_requests r JOIN users u ON u.id = r.requester_id "
                       "JOIN assets a ON a.id = r.asset_id WHERE r.id = ?1");
  if (!s) return s.error();
  auto row = s->bind(1, id).step();
  if (!row) return row.error();
  if (!*row) return fail(ErrorCode::not_found, "request " + std::to_string(id) + " not found");
  core::AccessRequest r;
  r.id = s->columnInt(0);
  r.requesterId = s->columnInt(1);
  r.requesterName = s->columnText(2);
  r.assetId = s->columnInt(3);
  r.assetName = s->columnText(4);
  r.ownerGroup = s->columnText(5);
  r.protocols = parseProtocols(s->columnText(6));
  r.windowStart = fromUnix(s->columnInt(7));
  r.duration = core::Seconds{s->columnInt(8)};
  r.reason = s->columnText(9);
  r.ticket = s->columnText(10);
  r.state = core::parseRequestState(s->columnText(11)).value_or(core::RequestState::cancelled);
  r.createdAt = fromUnix(s->columnInt(12));
  r.decidedAt = optionalTime(*s, 13);
  r.policyRule = s->columnText(14);
  auto limits = limitsFromJson(s->columnText(15));
  if (!limits) return limits.error();
  r.limits = std::move(*limits);
  auto votes = db_.prepare(
      "SELECT approver_id, approver_name, approver_groups, approve, comment, at "
      "FROM request_votes WHERE request_id = ?1 ORDER BY at, approver_id");
  if (!votes) return votes.error();
  votes->bind(1, r.id);
  while (true) {
    auto v = votes->step();
    if (!v) return v.error();
    if (!*v) break;
    r.votes.push_back(core::Vote{votes->columnInt(0), votes->columnText(1),
                                 splitSet(votes->columnText(2)), votes->columnInt(3) != 0,
                                 votes->columnText(4), fromUnix(votes->columnInt(5))});
  }
  return r;
}

core::Result<core::AccessRequest> AccessRepository::request(std::int64_t id) {
  return loadRequest(id);
}

core::Result<std::vector<core::AccessRequest>> AccessRepository::requests(const RequestFilter& f) {
  auto s = db_.prepare(
      "SELECT r.id FROM access_requests r JOIN users u ON u.id = r.requester_id "
      "WHERE (?1 IS NULL OR r.state = ?1) AND (?2 IS NULL OR r.requester_id = ?2) "
      "AND (?3 IS NULL OR u.vendor_id = ?3) AND (?4 IS NULL OR r.owner_group = ?4) "
      "ORDER BY r.id DESC");
  if (!s) return s.error();
  if (f.state) {
    s->bind(1, core::requestStateName(*f.state));
  } else {
    s->bindNull(1);
  }
  if (f.requesterId) {
    s->bind(2, *f.requesterId);
  } else {
    s->bindNull(2);
  }
  if (f.vendorId) {
    s->bind(3, *f.vendorId);
  } else {
    s->bindNull(3);
  }
  if (f.ownerGroup) {
    s->bind(4, *f.ownerGroup);
  } else {
    s->bindNull(4);
  }
  return loadEach<core::AccessRequest>(*s, [this](std::int64_t id) { return loadRequest(id); });
}

core::Status AccessRepository::updateRequest(const core::AccessRequest& r) {
  auto s = db_.prepare("UPDATE access_requests SET state = ?2, decided_at = ?3 WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, r.id).bind(2, core::requestStateName(r.state));
  bindOptionalTime(*s, 3, r.decidedAt);
  if (auto st = runOne(db_, *s, "request " + std::to_string(r.id)); !st) return st;
  auto v = db_.prepare(
      "INSERT OR IGNORE INTO request_votes(request_id, approver_id, approver_name, "
      "approver_groups, approve, comment, at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!v) return v.error();
  for (const auto& vote : r.votes) {
    v->reset();
    v->bind(1, r.id)
        .bind(2, vote.approverId)
        .bind(3, vote.approverName)
        .bind(4, joinSet(vote.approverGroups))
        .bind(5, std::int64_t{vote.approve})
        .bind(6, vote.comment)
        .bind(7, unix(vote.at));
    if (auto st = v->run(); !st) return st;
  }
  return core::Done{};
}

core::Result<std::int64_t> AccessRepository::insertGrant(const core::Grant& g) {
  auto s = db_.prepare(
      "INSERT INTO grants(request_id, user_id, asset_id, protocols, not_before, not_after, state, "
      "state_reason, limits) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!s) return s.error();
  s->bind(1, g.requestId)
      .bind(2, g.userId)
      .bind(3, g.assetId)
      .bind(4, protocolsText(g.protocols))
      .bind(5, unix(g.notBefore))
      .bind(6, unix(g.notAfter))
      .bind(7, core::grantStateName(g.state))
      .bind(8, g.stateReason)
      .bind(9, limitsToJson(g.limits));
  if (auto st = s->run(); !st) return st.error();
  return db_.lastInsertId();
}

core::Result<core::Grant> AccessRepository::grant(std::int64_t id) {
  auto s = db_.prepare(std::string("SELECT ") + kGrantColumns +
                       " FROM grants g JOIN assets a ON a.id = g.asset_id WHERE g.id = ?1");
  if (!s) return s.error();
  auto row = s->bind(1, id).step();
  if (!row) return row.error();
  if (!*row) return fail(ErrorCode::not_found, "grant " + std::to_string(id) + " not found");
  return readGrant(*s);
}

core::Result<std::vector<core::Grant>> AccessRepository::grantsFor(std::int64_t userId,
                                                                   std::int64_t assetId) {
  auto s = db_.prepare(std::string("SELECT ") + kGrantColumns +
                       " FROM grants g JOIN assets a ON a.id = g.asset_id "
                       "WHERE g.user_id = ?1 AND g.asset_id = ?2 ORDER BY g.id DESC");
  if (!s) return s.error();
  s->bind(1, userId).bind(2, assetId);
  std::vector<core::Grant> out;
  while (true) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return out;
    auto g = readGrant(*s);
    if (!g) return g.error();
    out.push_back(std::move(*g));
  }
}

core::Result<std::vector<core::Grant>> AccessRepository::grants(
    std::optional<std::int64_t> userId) {
  auto s = db_.prepare(std::string("SELECT ") + kGrantColumns +
                       " FROM grants g JOIN assets a ON a.id = g.asset_id "
                       "WHERE ?1 IS NULL OR g.user_id = ?1 ORDER BY g.id DESC");
  if (!s) return s.error();
  if (userId) {
    s->bind(1, *userId);
  } else {
    s->bindNull(1);
  }
  std::vector<core::Grant> out;
  while (true) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return out;
    auto g = readGrant(*s);
    if (!g) return g.error();
    out.push_back(std::move(*g));
  }
}

core::Status AccessRepository::updateGrantState(const core::Grant& g) {
  auto s = db_.prepare("UPDATE grants SET state = ?2, state_reason = ?3 WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, g.id).bind(2, core::grantStateName(g.state)).bind(3, g.stateReason);
  return runOne(db_, *s, "grant " + std::to_string(g.id));
}

}  // namespace conduit::store
