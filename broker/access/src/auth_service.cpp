#include "conduit/access/auth_service.hpp"

#include <sodium.h>

#include "conduit/access/audit_details.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/core/password.hpp"
#include "conduit/core/totp.hpp"
#include "conduit/store/access_repository.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/database.hpp"

namespace conduit::access {

using core::ErrorCode;
using core::fail;

namespace {

const char* const kInvalid = "invalid username, password or code";

void wipe(std::vector<unsigned char>& v) {
  sodium_memzero(v.data(), v.size());
  v.clear();
}

std::string totpSecretName(const std::string& username) {
  return "user/" + username + "/totp";
}

// A hash to verify against when the user does not exist, so that unknown and known users take
// the same time (no user enumeration by timing).
const std::string& dummyHash() {
  static const std::string kHash = core::hashPassword("conduit-dummy-password").value();
  return kHash;
}

}  // namespace

core::Result<LoginResult> AuthService::login(const std::string& username,
                                             const std::string& password,
                                             const std::string& totpCode,
                                             const std::string& source) {
  return check(username, password, totpCode, source, Step::both);
}

core::Result<LoginResult> AuthService::checkPassword(const std::string& username,
                                                     const std::string& password,
                                                     const std::string& source) {
  return check(username, password, "", source, Step::passwordOnly);
}

core::Result<LoginResult> AuthService::loginWithVerifiedKey(const std::string& username,
                                                            const std::string& totpCode,
                                                            const std::string& source) {
  return check(username, std::nullopt, totpCode, source, Step::both);
}

core::Result<LoginResult> AuthService::check(const std::string& username,
                                             const std::optional<std::string>& password,
                                             const std::string& totpCode, const std::string& source,
                                             Step steps) {
  store::AccessRepository repo(db_);
  const core::TimePoint now = clock_.now();
  auto record = [&](const std::string& type, core::AuditOutcome outcome,
                    const std::string& why) -> core::Status {
    auto tx = store::Transaction::begin(db_);
    if (!tx) return tx.error();
    auto e = store::AuditLog(db_).append({username, source, "auth", type, "user:" + username,
                                          outcome, auditDetails({{"reason", why}})},
                                         now);
    if (!e) return e.error();
    return tx->commit();
  };
  auto refuse = [&](const std::string& type, const std::string& why,
                    const std::string& shown) -> core::Error {
    (void)record(type, core::AuditOutcome::failure, why);
    return {ErrorCode::permission_denied, shown};
  };

  auto user = repo.userByName(username);
  if (!user) {
    (void)core::verifyPassword(dummyHash(), password.value_or(""));
    return refuse("login.failed", "unknown user", kInvalid);
  }
  auto creds = repo.credentials(user->id);
  if (!creds) return creds.error();
  if (creds->lockedUntil && now < *creds->lockedUntil) {
    return refuse("login.refused", "account locked",
                  "the account is locked after repeated failures; try again after " +
                      core::formatTime(*creds->lockedUntil));
  }
  std::optional<core::VendorOrg> vendor;
  if (user->vendorId) {
    auto v = repo.vendor(*user->vendorId);
    if (v) vendor = *v;
  }
  if (auto why = core::userInactiveReason(*user, vendor ? &*vendor : nullptr, now)) {
    return refuse("login.refused", *why, "the account is not active");
  }

  const bool enrolled = creds->totpSeedSealed || !creds->totpSeed.empty();
  // Without a password the caller vouches for a verified key; then TOTP is the second factor
  // and must exist.
  bool ok = password ? creds->passwordHash && core::verifyPassword(*creds->passwordHash, *password)
                     : enrolled;
  std::string why = ok ? "" : (password ? "wrong password" : "key login without enrolled TOTP");
  std::optional<std::int64_t> step;
  if (ok && enrolled && steps == Step::both) {
    std::vector<unsigned char> seed;
    if (creds->totpSeedSealed) {
      auto opened = vault_.openLoginFactor(totpSecretName(username));
      if (!opened) {
        // Fail closed: a sealed vault means no second factor can be checked.
        return refuse("login.refused", opened.error().message,
                      "logins are unavailable: " + opened.error().message);
      }
      seed.assign(opened->data(), opened->data() + opened->size());
    } else {
      seed = creds->totpSeed;
    }
    step = core::verifyTotp(seed, totpCode, now, creds->totpLastStep);
    wipe(seed);
    if (!step) {
      ok = false;
      why = "wrong or reused TOTP code";
    }
  }

  auto tx = store::Transaction::begin(db_);
  if (!tx) return tx.error();
  store::AuditLog log(db_);
  if (!ok) {
    const int failures = creds->failedLogins + 1;
    std::optional<core::TimePoint> lockedUntil;
    if (failures >= policy_.maxFailures) lockedUntil = now + policy_.lockFor;
    if (auto st =
            repo.setLoginCounters(user->id, lockedUntil ? 0 : failures, lockedUntil, std::nullopt);
        !st) {
      return st.error();
    }
    if (auto e = log.append({username, source, "auth", "login.failed", "user:" + username,
                             core::AuditOutcome::failure,
                             auditDetails({{"reason", why}, {"failures", std::int64_t{failures}}})},
                            now);
        !e) {
      return e.error();
    }
    if (lockedUntil) {
      if (auto e = log.append({"system", source, "auth", "account.locked", "user:" + username,
                               core::AuditOutcome::success,
                               auditDetails({{"until", core::formatTime(*lockedUntil)},
                                             {"failures", std::int64_t{failures}}})},
                              now);
          !e) {
        return e.error();
      }
    }
    if (auto st = tx->commit(); !st) return st.error();
    return fail(ErrorCode::permission_denied, kInvalid);
  }
  if (steps == Step::passwordOnly) {
    // The first step of two: the failure count stays, so that right passwords cannot be used
    // to reset the count while guessing TOTP codes.
    if (auto e =
            log.append({username, source, "auth", "login.password_verified", "user:" + username,
                        core::AuditOutcome::success, auditDetails({{"totp_enrolled", enrolled}})},
                       now);
        !e) {
      return e.error();
    }
    if (auto st = tx->commit(); !st) return st.error();
    return LoginResult{std::move(*user), enrolled};
  }
  if (auto st = repo.setLoginCounters(user->id, 0, std::nullopt, step); !st) return st.error();
  if (auto e = log.append({username, source, "auth", "login.succeeded", "user:" + username,
                           core::AuditOutcome::success, auditDetails({{"mfa", enrolled}})},
                          now);
      !e) {
    return e.error();  // no audit record, no login
  }
  if (auto st = tx->commit(); !st) return st.error();
  return LoginResult{std::move(*user), enrolled};
}

core::Result<std::string> AuthService::enrolTotp(const std::string& actor,
                                                 const std::string& username,
                                                 const std::string& source) {
  store::AccessRepository repo(db_);
  auto user = repo.userByName(username);
  if (!user) return user.error();
  auto seed = core::newTotpSeed();
  if (seed.empty()) return fail(ErrorCode::internal, "no randomness for a TOTP seed");
  auto stored = vault_.put({actor, source}, totpSecretName(username), "totp_seed", seed, false,
                           "TOTP seed of " + username);
  if (!stored) {
    wipe(seed);
    return stored.error();
  }
  if (auto st = repo.setTotpSeed(user->id, {}, true); !st) return st.error();
  const std::string uri = core::totpUri("Conduit", username, seed);
  wipe(seed);
  return uri;
}

}  // namespace conduit::access
