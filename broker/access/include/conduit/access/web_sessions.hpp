#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "conduit/access/actor.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/core/identity.hpp"
#include "conduit/core/result.hpp"

namespace conduit::store {
class Database;
}

namespace conduit::access {

/// How long a portal session lives (CIP-007 R5, IEC 62443 SR 2.5/2.6).
struct WebSessionLimits {
  // 15 minutes idle: an unattended browser in a control room must not stay signed in.
  core::Seconds idle{15 * 60};
  // 8 hours absolute: one shift; then sign in again with both factors.
  core::Seconds absolute{8 * 3600};
};

/// Whether a session created at `created` and last used at `lastSeen` has timed out at `now`.
bool webSessionExpired(core::TimePoint created, core::TimePoint lastSeen, core::TimePoint now,
                       const WebSessionLimits& limits);

/// Stages of a portal session: the password step passed and TOTP (or its enrolment) is due, or
/// fully signed in.
enum class WebStage { totp, enrol, active };

/// What a cookie value resolves to.
struct WebSession {
  core::User user;
  WebStage stage = WebStage::totp;
  std::string csrfToken;
};

/// A new session: the cookie value (shown to the browser once, stored only hashed) and its CSRF
/// token.
struct IssuedSession {
  std::string cookieValue;
  std::string csrfToken;
};

/// Portal browser sessions, stored hashed in the database. Thread-compatible (one per connection).
class WebSessionService {
 public:
  WebSessionService(store::Database& db, const core::Clock& clock, WebSessionLimits limits = {})
      : db_(db), clock_(clock), limits_(limits) {}

  /// Starts a session for `user` at `stage` with fresh 256-bit random id and CSRF token.
  core::Result<IssuedSession> begin(const core::User& user, WebStage stage,
                                    const std::string& source);
  /// The session behind a cookie value; `unauthenticated` if unknown, timed out (then deleted)
  /// or the user is now disabled. Refreshes the idle timer.
  core::Result<WebSession> resolve(const std::string& cookieValue);
  /// Replaces the session with a new id at stage active (no session fixation across login).
  core::Result<IssuedSession> promote(const std::string& cookieValue, const std::string& source);
  /// Ends one session (logout), audited.
  core::Status end(const std::string& cookieValue, const Actor& actor);
  /// Ends every portal session of a user; returns how many.
  core::Result<std::int64_t> endAllOf(std::int64_t userId);

 private:
  store::Database& db_;
  const core::Clock& clock_;
  WebSessionLimits limits_;
};

/// An API token as its owner sees it (never the secret again after creation).
struct ApiTokenInfo {
  std::int64_t id = 0;
  std::string name;
  std::set<core::Role> roles;
  core::TimePoint createdAt{};
  std::optional<core::TimePoint> lastUsedAt;
};

/// The caller behind a bearer token: the owner with only the token's roles.
struct TokenCaller {
  core::User user;  // roles narrowed to the token's scope
  std::int64_t tokenId = 0;
};

/// API tokens for automation: `ct_` + 256 random bits, stored as a BLAKE2b hash, scoped to a
/// subset of the owner's roles, revocable; creation and revocation are audited.
class ApiTokenService {
 public:
  ApiTokenService(store::Database& db, const core::Clock& clock) : db_(db), clock_(clock) {}

  /// Returns the id and the token text (shown once). invalid_argument if a role is not the
  /// owner's or the name is empty or too long.
  core::Result<std::pair<std::int64_t, std::string>> create(const Actor& actor,
                                                            const core::User& owner,
                                                            const std::string& name,
                                                            const std::set<core::Role>& roles);
  /// `unauthenticated` for an unknown or revoked token, or a disabled owner.
  core::Result<TokenCaller> resolve(const std::string& token);
  core::Result<std::vector<ApiTokenInfo>> list(std::int64_t userId);
  /// The owner or an admin may revoke; others get not_found (ids of others are not revealed).
  core::Status revoke(const Actor& actor, const core::User& caller, std::int64_t id);

 private:
  store::Database& db_;
  const core::Clock& clock_;
};

}  // namespace conduit::access
