#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "conduit/core/clock.hpp"
#include "conduit/core/result.hpp"

namespace conduit::store {

class Database;

/// A portal browser session as stored: the cookie value itself is never stored, only its hash.
struct WebSessionRow {
  std::vector<unsigned char> idHash;
  std::int64_t userId = 0;
  std::string stage;  // "totp" | "enrol" (password checked, second step due) | "active"
  std::string csrfToken;
  std::string source;
  core::TimePoint createdAt{};
  core::TimePoint lastSeenAt{};
};

/// An API token as stored (hash only).
struct ApiTokenRow {
  std::int64_t id = 0;
  std::int64_t userId = 0;
  std::string name;
  std::vector<unsigned char> tokenHash;
  std::string roles;  // comma-separated subset of the owner's roles
  core::TimePoint createdAt{};
  std::optional<core::TimePoint> lastUsedAt;
  std::optional<core::TimePoint> revokedAt;
};

/// Portal sessions and API tokens. Transactions are the caller's.
class PortalRepository {
 public:
  explicit PortalRepository(Database& db) : db_(db) {}

  core::Status insertSession(const WebSessionRow& row);
  /// not_found when no session has this hash.
  core::Result<WebSessionRow> session(const std::vector<unsigned char>& idHash);
  core::Status touchSession(const std::vector<unsigned char>& idHash, core::TimePoint at);
  core::Status removeSession(const std::vector<unsigned char>& idHash);
  /// Ends every session of a user (logout everywhere, disable, TOTP reset); returns how many.
  core::Result<std::int64_t> removeSessionsOf(std::int64_t userId);
  /// Deletes sessions last seen before `idleCutoff` or created before `absoluteCutoff`.
  core::Status purgeSessions(core::TimePoint idleCutoff, core::TimePoint absoluteCutoff);

  core::Result<std::int64_t> insertToken(const ApiTokenRow& row);
  /// not_found when no token has this hash (revoked ones are returned; the caller checks).
  core::Result<ApiTokenRow> tokenByHash(const std::vector<unsigned char>& hash);
  core::Result<ApiTokenRow> token(std::int64_t id);
  core::Result<std::vector<ApiTokenRow>> tokensOf(std::int64_t userId);
  core::Status touchToken(std::int64_t id, core::TimePoint at);
  core::Status revokeToken(std::int64_t id, core::TimePoint at);

 private:
  Database& db_;
};

/// One vendor session in the live registry.
struct SessionRow {
  std::string id;
  std::string user;
  std::string asset;
  std::string protocol;
  std::string source;
  std::optional<std::int64_t> grantId;
  core::TimePoint startedAt{};
  core::TimePoint until{};
  std::optional<core::TimePoint> endedAt;
  std::string endReason;
  std::int64_t bytesToTarget = 0;
  std::int64_t bytesToVendor = 0;
};

/// The live session registry, shared by every gateway through the database so that the portal
/// (and later other broker nodes) see and kill the same sessions.
class SessionRepository {
 public:
  explicit SessionRepository(Database& db) : db_(db) {}

  core::Status started(const SessionRow& row);
  core::Status ended(const std::string& id, core::TimePoint at, const std::string& reason,
                     std::int64_t bytesToTarget, std::int64_t bytesToVendor);
  /// Sessions not yet ended, oldest first.
  core::Result<std::vector<SessionRow>> open();
  core::Result<SessionRow> session(const std::string& id);
  /// At start-up: sessions a previous process left open are marked ended with `reason`.
  core::Result<std::int64_t> closeLeftovers(core::TimePoint at, const std::string& reason);

 private:
  Database& db_;
};

}  // namespace conduit::store
