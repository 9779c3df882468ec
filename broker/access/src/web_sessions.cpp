#include "conduit/access/web_sessions.hpp"

#include <sodium.h>

#include "conduit/access/audit_details.hpp"
#include "conduit/store/access_repository.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/portal_repository.hpp"

namespace conduit::access {

using core::ErrorCode;
using core::fail;

namespace {

constexpr std::size_t kIdBytes = 32;  // 256 bits, as the portal issue asks
const char* const kSignIn = "sign in again";

std::string randomToken() {
  unsigned char raw[kIdBytes];
  randombytes_buf(raw, sizeof raw);
  char text[sodium_base64_ENCODED_LEN(kIdBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof text, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
  return text;
}

std::vector<unsigned char> hashOf(const std::string& value) {
  std::vector<unsigned char> out(crypto_generichash_BYTES);
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(value.data()),
                     value.size(), nullptr, 0);
  return out;
}

std::string stageName(WebStage s) {
  switch (s) {
    case WebStage::totp:
      return "totp";
    case WebStage::enrol:
      return "enrol";
    case WebStage::active:
      return "active";
  }
  return "totp";
}

std::optional<WebStage> parseStage(const std::string& s) {
  if (s == "totp") return WebStage::totp;
  if (s == "enrol") return WebStage::enrol;
  if (s == "active") return WebStage::active;
  return std::nullopt;
}

/// The user if they may still act now (not disabled, not expired, vendor contract running).
core::Result<core::User> activeUser(store::AccessRepository& repo, std::int64_t userId,
                                    core::TimePoint now) {
  auto user = repo.user(userId);
  if (!user) return fail(ErrorCode::unauthenticated, kSignIn);
  std::optional<core::VendorOrg> vendor;
  if (user->vendorId) {
    if (auto v = repo.vendor(*user->vendorId)) vendor = std::move(*v);
  }
  if (core::userInactiveReason(*user, vendor ? &*vendor : nullptr, now)) {
    return fail(ErrorCode::unauthenticated, "the account is not active");
  }
  return user;
}

std::string rolesText(const std::set<core::Role>& roles) {
  std::string out;
  for (auto r : roles) out += (out.empty() ? "" : ",") + std::string(core::roleName(r));
  return out;
}

std::set<core::Role> parseRoles(const std::string& text) {
  std::set<core::Role> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find(',', start);
    if (auto r = core::parseRole(text.substr(start, end == std::string::npos ? end : end - start)))
      out.insert(*r);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

core::Status audited(store::Database& db, core::TimePoint now, const core::AuditDraft& d) {
  auto e = store::AuditLog(db).append(d, now);
  if (!e) return e.error();
  return core::Done{};
}

}  // namespace

bool webSessionExpired(core::TimePoint created, core::TimePoint lastSeen, core::TimePoint now,
                       const WebSessionLimits& limits) {
  return now >= lastSeen + limits.idle || now >= created + limits.absolute || now < created;
}

core::Result<IssuedSession> WebSessionService::begin(const core::User& user, WebStage stage,
                                                     const std::string& source) {
  IssuedSession issued{randomToken(), randomToken()};
  const auto now = clock_.now();
  store::WebSessionRow row{
      hashOf(issued.cookieValue), user.id, stageName(stage), issued.csrfToken, source, now, now};
  if (auto st = store::PortalRepository(db_).insertSession(row); !st) return st.error();
  return issued;
}

core::Result<WebSession> WebSessionService::resolve(const std::string& cookieValue) {
  if (cookieValue.empty() || cookieValue.size() > 128) {
    return fail(ErrorCode::unauthenticated, kSignIn);
  }
  store::PortalRepository portal(db_);
  const auto hash = hashOf(cookieValue);
  auto row = portal.session(hash);
  if (!row) return fail(ErrorCode::unauthenticated, kSignIn);
  const auto now = clock_.now();
  if (webSessionExpired(row->createdAt, row->lastSeenAt, now, limits_)) {
    (void)portal.removeSession(hash);
    return fail(ErrorCode::unauthenticated, "the session has timed out; sign in again");
  }
  store::AccessRepository repo(db_);
  auto user = activeUser(repo, row->userId, now);
  if (!user) {
    (void)portal.removeSession(hash);
    return user.error();
  }
  auto stage = parseStage(row->stage);
  if (!stage) return fail(ErrorCode::unauthenticated, kSignIn);
  // Touch at most every few seconds: a busy page must not turn every GET into a write.
  if (now - row->lastSeenAt >= core::Seconds{5}) (void)portal.touchSession(hash, now);
  return WebSession{std::move(*user), *stage, row->csrfToken};
}

core::Result<IssuedSession> WebSessionService::promote(const std::string& cookieValue,
                                                       const std::string& source) {
  store::PortalRepository portal(db_);
  auto row = portal.session(hashOf(cookieValue));
  if (!row) return fail(ErrorCode::unauthenticated, kSignIn);
  IssuedSession issued{randomToken(), randomToken()};
  const auto now = clock_.now();
  auto tx = store::Transaction::begin(db_);
  if (!tx) return tx.error();
  if (auto st = portal.removeSession(row->idHash); !st) return st.error();
  store::WebSessionRow fresh{
      hashOf(issued.cookieValue), row->userId, "active", issued.csrfToken, source, now, now};
  if (auto st = portal.insertSession(fresh); !st) return st.error();
  if (auto st = tx->commit(); !st) return st.error();
  return issued;
}

core::Status WebSessionService::end(const std::string& cookieValue, const Actor& actor) {
  auto tx = store::Transaction::begin(db_);
  if (!tx) return tx.error();
  if (auto st = store::PortalRepository(db_).removeSession(hashOf(cookieValue)); !st) return st;
  if (auto st = audited(db_, clock_.now(),
                        {actor.username, actor.source, "auth", "logout", "user:" + actor.username,
                         core::AuditOutcome::success, "{}"});
      !st) {
    return st;
  }
  return tx->commit();
}

core::Result<std::int64_t> WebSessionService::endAllOf(std::int64_t userId) {
  return store::PortalRepository(db_).removeSessionsOf(userId);
}

core::Result<std::pair<std::int64_t, std::string>> ApiTokenService::create(
    const Actor& actor, const core::User& owner, const std::string& name,
    const std::set<core::Role>& roles) {
  if (name.empty() || name.size() > 100) {
    return fail(ErrorCode::invalid_argument, "a token needs a name of 1 to 100 characters");
  }
  if (roles.empty()) return fail(ErrorCode::invalid_argument, "a token needs at least one role");
  for (auto r : roles) {
    if (!owner.hasRole(r)) {
      return fail(ErrorCode::invalid_argument, "a token cannot hold the role " +
                                                   std::string(core::roleName(r)) +
                                                   " that its owner does not have");
    }
  }
  const std::string token = "ct_" + randomToken();
  const auto now = clock_.now();
  auto tx = store::Transaction::begin(db_);
  if (!tx) return tx.error();
  auto id = store::PortalRepository(db_).insertToken(
      {0, owner.id, name, hashOf(token), rolesText(roles), now, std::nullopt, std::nullopt});
  if (!id) return id.error();
  if (auto st = audited(db_, now,
                        {actor.username, actor.source, "auth", "token.created",
                         "token:" + std::to_string(*id), core::AuditOutcome::success,
                         auditDetails({{"name", name}, {"roles", rolesText(roles)}})});
      !st) {
    return st.error();
  }
  if (auto st = tx->commit(); !st) return st.error();
  return std::pair{*id, token};
}

core::Result<TokenCaller> ApiTokenService::resolve(const std::string& token) {
  if (!token.starts_with("ct_") || token.size() > 128) {
    return fail(ErrorCode::unauthenticated, "invalid API token");
  }
  store::PortalRepository portal(db_);
  auto row = portal.tokenByHash(hashOf(token));
  if (!row || row->revokedAt) return fail(ErrorCode::unauthenticated, "invalid API token");
  const auto now = clock_.now();
  store::AccessRepository repo(db_);
  auto user = activeUser(repo, row->userId, now);
  if (!user) return user.error();
  std::set<core::Role> scoped;
  for (auto r : parseRoles(row->roles)) {
    if (user->hasRole(r)) scoped.insert(r);  // a role the owner lost is gone from the token too
  }
  user->roles = std::move(scoped);
  if (!row->lastUsedAt || now - *row->lastUsedAt >= core::Seconds{60}) {
    (void)portal.touchToken(row->id, now);
  }
  return TokenCaller{std::move(*user), row->id};
}

core::Result<std::vector<ApiTokenInfo>> ApiTokenService::list(std::int64_t userId) {
  auto rows = store::PortalRepository(db_).tokensOf(userId);
  if (!rows) return rows.error();
  std::vector<ApiTokenInfo> out;
  for (const auto& r : *rows)
    out.push_back({r.id, r.name, parseRoles(r.roles), r.createdAt, r.lastUsedAt});
  return out;
}

core::Status ApiTokenService::revoke(const Actor& actor, const core::User& caller,
                                     std::int64_t id) {
  store::PortalRepository portal(db_);
  auto row = portal.token(id);
  if (!row || (row->userId != caller.id && !caller.hasRole(core::Role::admin))) {
    return fail(ErrorCode::not_found, "token " + std::to_string(id) + " not found");
  }
  const auto now = clock_.now();
  auto tx = store::Transaction::begin(db_);
  if (!tx) return tx.error();
  if (auto st = portal.revokeToken(id, now); !st) return st;
  if (auto st = audited(
          db_, now,
          {actor.username, actor.source, "auth", "token.revoked", "token:" + std::to_string(id),
           core::AuditOutcome::success, auditDetails({{"name", row->name}})});
      !st) {
    return st;
  }
  return tx->commit();
}

}  // namespace conduit::access
