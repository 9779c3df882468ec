#pragma once

#include <optional>
#include <string>

#include "conduit/core/clock.hpp"
#include "conduit/core/identity.hpp"
#include "conduit/core/result.hpp"

namespace conduit::store {
class Database;
}

namespace conduit::access {

class VaultService;

/// Limits on guessing (CIP-007 R5.7, IEC 62443 SR 1.11).
struct LockoutPolicy {
  // 5 failures: enough for typos, far too few for guessing an argon2id-hashed password.
  int maxFailures = 5;
  // 15 minutes: long enough to stop online guessing, short enough not to need a help desk.
  core::Seconds lockFor{900};
};

/// What a login attempt achieved.
struct LoginResult {
  core::User user;
  bool totpEnrolled = false;  // false: the portal must enrol TOTP before anything else
};

/// Password + TOTP login with lockout; every attempt is audited (login.succeeded,
/// login.failed, login.refused, account.locked). Failures say "invalid username, password or
/// code" whatever the cause, so the answer does not reveal which part was wrong or whether the
/// user exists; the audit event records the real reason.
class AuthService {
 public:
  AuthService(store::Database& db, VaultService& vault, const core::Clock& clock,
              LockoutPolicy policy = {})
      : db_(db), vault_(vault), clock_(clock), policy_(policy) {}

  /// Checks password and, if the user has enrolled TOTP, the code (each code once).
  /// permission_denied for a wrong credential, a locked, disabled or expired account.
  core::Result<LoginResult> login(const std::string& username, const std::string& password,
                                  const std::string& totpCode, const std::string& source);

  /// The first of two portal steps: the password alone (audited, counts towards lockout).
  /// The result says whether TOTP is enrolled; the caller must then complete the login with
  /// loginWithVerifiedKey() (the TOTP step) or enrol TOTP first.
  core::Result<LoginResult> checkPassword(const std::string& username, const std::string& password,
                                          const std::string& source);

  /// The second step after a verified registered SSH key (or the portal's password step): the TOTP
  /// code alone. A user without an enrolled TOTP seed is refused (the key alone is one factor).
  core::Result<LoginResult> loginWithVerifiedKey(const std::string& username,
                                                 const std::string& totpCode,
                                                 const std::string& source);

  /// Makes a new TOTP seed, seals it in the vault, and returns the otpauth:// URI to show once.
  core::Result<std::string> enrolTotp(const std::string& actor, const std::string& username,
                                      const std::string& source);

 private:
  enum class Step { passwordOnly, both };
  core::Result<LoginResult> check(const std::string& username,
                                  const std::optional<std::string>& password,
                                  const std::string& totpCode, const std::string& source,
                                  Step steps);

  store::Database& db_;
  VaultService& vault_;
  const core::Clock& clock_;
  LockoutPolicy policy_;
};

}  // namespace conduit::access
