#include "conduit/access/admin_service.hpp"

#include <optional>

#include "conduit/access/audit_details.hpp"
#include "conduit/core/password.hpp"
#include "conduit/core/workflow.hpp"
#include "conduit/store/access_repository.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/vault_repository.hpp"

#include <set>
#include <sstream>

namespace conduit::access {

using core::ErrorCode;
using core::fail;

namespace {

/// Runs `body` inside a transaction and appends its audit event; commits only if both worked,
/// so an administrative change without its audit record never happens.
template <typename T, typename Body>
core::Result<T> audited(store::Database& db, const core::Clock& clock, const Actor& actor,
                        const std::string& type, const std::string& target, Body body) {
  auto tx = store::Transaction::begin(db);
  if (!tx) return tx.error();
  store::AccessRepository repo(db);
  std::string details = "{}";
  core::Result<T> result = body(repo, details);
  if (!result) return result.error();
  store::AuditLog log(db);
  auto e = log.append(
      {actor.username, actor.source, "admin", type, target, core::AuditOutcome::success, details},
      clock.now());
  if (!e) return e.error();
  if (auto st = tx->commit(); !st) return st.error();
  return result;
}

/// Revokes every active or suspended grant of a user; returns how many.
core::Result<std::int64_t> revokeAllGrants(store::AccessRepository& repo, store::AuditLog& log,
                                           const Actor& actor, const core::User& user,
                                           const std::string& reason, core::TimePoint now) {
  auto grants = repo.grants(user.id);
  if (!grants) return grants.error();
  std::int64_t n = 0;
  for (auto g : *grants) {
    if (g.state == core::GrantState::revoked || g.notAfter <= now) continue;
    g.state = core::GrantState::revoked;
    g.stateReason = reason;
    if (auto st = repo.updateGrantState(g); !st) return st.error();
    auto e = log.append(
        {actor.username, actor.source, "access", "grant.revoked", "grant:" + std::to_string(g.id),
         core::AuditOutcome::success,
         auditDetails({{"user", user.username}, {"asset", g.assetName}, {"reason", reason}})},
        now);
    if (!e) return e.error();
    ++n;
  }
  return n;
}

bool validName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

core::Status checkName(const std::string& what, const std::string& name) {
  if (!validName(name)) {
    return fail(ErrorCode::invalid_argument,
                what + " name '" + name +
                    "' must be 1-64 letters, digits, '-', '_' or '.' (no '+': it separates user "
                    "and asset in SSH logins)");
  }
  return core::Done{};
}

}  // namespace

core::Result<core::VendorOrg> AdminService::addVendor(const Actor& a, core::VendorOrg v) {
  if (auto st = checkName("vendor", v.name); !st) return st.error();
  return audited<core::VendorOrg>(
      db_, clock_, a, "vendor.created", "vendor:" + v.name,
      [&](store::AccessRepository& repo, std::string& details) -> core::Result<core::VendorOrg> {
        auto id = repo.insertVendor(v, clock_.now());
        if (!id) return id.error();
        v.id = *id;
        details = auditDetails({{"contact", v.contact},
                                {"contract_end", v.contractEnd ? core::formatTime(*v.contractEnd)
                                                               : std::string("none")}});
        return v;
      });
}

core::Result<core::VendorOrg> AdminService::setVendorDisabled(const Actor& a,
                                                              const std::string& name,
                                                              bool disabled) {
  return audited<core::VendorOrg>(
      db_, clock_, a, disabled ? "vendor.disabled" : "vendor.enabled", "vendor:" + name,
      [&](store::AccessRepository& repo, std::string& details) -> core::Result<core::VendorOrg> {
        auto v = repo.vendorByName(name);
        if (!v) return v.error();
        v->disabled = disabled;
        if (auto st = repo.updateVendor(*v); !st) return st.error();
        std::int64_t revoked = 0;
        if (disabled) {
          auto users = repo.usersOfVendor(v->id);
          if (!users) return users.error();
          store::AuditLog log(db_);
          for (const auto& u : *users) {
            auto n = revokeAllGrants(repo, log, a, u, "vendor " + name + " disabled", clock_.now());
            if (!n) return n.error();
            revoked += *n;
          }
        }
        details = auditDetails({{"grants_revoked", revoked}});
        return std::move(*v);
      });
}

core::Result<core::VendorOrg> AdminService::setVendorContractEnd(
    const Actor& a, const std::string& name, std::optional<core::TimePoint> end) {
  return audited<core::VendorOrg>(
      db_, clock_, a, "vendor.contract_changed", "vendor:" + name,
      [&](store::AccessRepository& repo, std::string& details) -> core::Result<core::VendorOrg> {
        auto v = repo.vendorByName(name);
        if (!v) return v.error();
        v->contractEnd = end;
        if (auto st = repo.updateVendor(*v); !st) return st.error();
        details =
            auditDetails({{"contract_end", end ? core::formatTime(*end) : std::string("none")}});
        return std::move(*v);
      });
}

core::Status AdminService::removeVendor(const Actor& a, const std::string& name) {
  return audited<core::Done>(db_, clock_, a, "vendor.removed", "vendor:" + name,
                             [&](store::AccessRepository& repo, std::string&) -> core::Status {
                               auto v = repo.vendorByName(name);
                               if (!v) return v.error();
                               return repo.deleteVendor(v->id);
                             });
}

core::Result<core::EngineerGroup> AdminService::addGroup(const Actor& a, core::EngineerGroup g) {
  if (auto st = checkName("group", g.name); !st) return st.error();
  return audited<core::EngineerGroup>(
      db_, clock_, a, "group.created", "group:" + g.name,
      [&](store::AccessRepository& repo, std::string&) -> core::Result<core::EngineerGroup> {
        auto id = repo.insertGroup(g);
        if (!id) return id.error();
        g.id = *id;
        return g;
      });
}

core::Status AdminService::removeGroup(const Actor& a, const std::string& name) {
  return audited<core::Done>(db_, clock_, a, "group.removed", "group:" + name,
                             [&](store::AccessRepository& repo, std::string&) -> core::Status {
                               auto g = repo.groupByName(name);
                               if (!g) return g.error();
                               return repo.deleteGroup(g->id);
                             });
}

core::Result<core::User> AdminService::addUser(const Actor& a, const NewUser& n) {
  if (auto st = checkName("user", n.username); !st) return st.error();
  if (n.roles.empty()) return fail(ErrorCode::invalid_argument, "give the user at least one role");
  if (n.roles.contains(core::Role::vendor) && n.vendor.empty()) {
    return fail(ErrorCode::invalid_argument, "a vendor user needs --vendor");
  }
  if (!n.groups.empty() && !n.roles.contains(core::Role::engineer)) {
    return fail(ErrorCode::invalid_argument, "only engineers belong to engineer groups");
  }
  // Hash before the transaction: argon2id takes ~0.1 s and must not hold the write lock.
  auto hash = core::hashPassword(n.password);
  if (!hash) return hash.error();
  return audited<core::User>(
      db_, clock_, a, "user.created", "user:" + n.username,
      [&](store::AccessRepository& repo, std::string& details) -> core::Result<core::User> {
        core::User u;
        u.username = n.username;
        u.displayName = n.displayName;
        u.roles = n.roles;
        u.groups = n.groups;
        u.expiresAt = n.expiresAt;
        if (!n.vendor.empty()) {
          auto v = repo.vendorByName(n.vendor);
          if (!v) return v.error();
          u.vendorId = v->id;
          u.vendorName = v->name;
        }
        auto id = repo.insertUser(u, *hash, clock_.now());
        if (!id) return id.error();
        u.id = *id;
        std::string roles;
        for (auto r : u.roles) roles += (roles.empty() ? "" : ",") + std::string(core::roleName(r));
        std::string groups;
        for (const auto& g : u.groups) groups += (groups.empty() ? "" : ",") + g;
        details = auditDetails({{"roles", roles}, {"groups", groups}, {"vendor", n.vendor}});
        return u;
      });
}

core::Result<core::User> AdminService::setUserDisabled(const Actor& a, const std::string& username,
                                                       bool disabled) {
  return audited<core::User>(
      db_, clock_, a, disabled ? "user.disabled" : "user.enabled", "user:" + username,
      [&](store::AccessRepository& repo, std::string& details) -> core::Result<core::User> {
        auto u = repo.userByName(username);
        if (!u) return u.error();
        u->disabled = disabled;
        if (auto st = repo.updateUser(*u); !st) return st.error();
        std::int64_t revoked = 0;
        if (disabled) {
          store::AuditLog log(db_);
          auto n =
              revokeAllGrants(repo, log, a, *u, "user " + username + " disabled", clock_.now());
          if (!n) return n.error();
          revoked = *n;
        }
        details = auditDetails({{"grants_revoked", revoked}});
        return std::move(*u);
      });
}

core::Status AdminService::removeUser(const Actor& a, const std::string& username) {
  return audited<core::Done>(db_, clock_, a, "user.removed", "user:" + username,
                             [&](store::AccessRepository& repo, std::string&) -> core::Status {
                               auto u = repo.userByName(username);
                               if (!u) return u.error();
                               return repo.deleteUser(u->id);
                             });
}

core::Status AdminService::setPassword(const Actor& a, const std::string& username,
                                       const std::string& password) {
  auto hash = core::hashPassword(password);
  if (!hash) return hash.error();
  return audited<core::Done>(db_, clock_, a, "user.password_set", "user:" + username,
                             [&](store::AccessRepository& repo, std::string&) -> core::Status {
                               auto u = repo.userByName(username);
                               if (!u) return u.error();
                               return repo.setPasswordHash(u->id, *hash);
                             });
}

core::Result<core::User> AdminService::resetTotp(const Actor& a, const std::string& username) {
  return audited<core::User>(
      db_, clock_, a, "user.totp_reset", "user:" + username,
      [&](store::AccessRepository& repo, std::string& details) -> core::Result<core::User> {
        auto u = repo.userByName(username);
        if (!u) return u.error();
        auto creds = repo.credentials(u->id);
        if (!creds) return creds.error();
        const bool wasEnrolled = creds->totpSeedSealed || !creds->totpSeed.empty();
        // Empty and not sealed is "not enrolled": the sealed copy in the vault is no longer read
        // and is replaced by the next enrolment.
        if (auto st = repo.setTotpSeed(u->id, {}, false); !st) return st.error();
        details = auditDetails({{"was_enrolled", wasEnrolled}});
        return std::move(*u);
      });
}

core::Status AdminService::addSshKey(const Actor& a, const std::string& username,
                                     const std::string& keyText) {
  std::istringstream in(keyText);
  std::string type, blob, comment;
  in >> type >> blob;
  std::getline(in >> std::ws, comment);
  static const std::set<std::string> kTypes{"ssh-ed25519", "ecdsa-sha2-nistp256",
                                            "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                                            "ssh-rsa"};
  const bool base64 = !blob.empty() && blob.find_first_not_of(
                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                           "0123456789+/=") == std::string::npos;
  if (!kTypes.contains(type) || !base64) {
    return fail(ErrorCode::invalid_argument,
                "not an OpenSSH public key line (ssh-ed25519, ecdsa-sha2-* or ssh-rsa)");
  }
  return audited<core::Done>(
      db_, clock_, a, "user.ssh_key_added", "user:" + username,
      [&](store::AccessRepository& repo, std::string& details) -> core::Status {
        auto u = repo.userByName(username);
        if (!u) return u.error();
        details = auditDetails({{"type", type}, {"comment", comment}});
        return repo.addSshKey(u->id, type + " " + blob, comment, clock_.now());
      });
}

core::Status AdminService::setEndpointCredential(const Actor& a, const std::string& asset,
                                                 core::Protocol protocol,
                                                 const std::string& secretName,
                                                 const std::string& rotationCommand) {
  if (!rotationCommand.empty() && secretName.empty()) {
    return fail(ErrorCode::invalid_argument, "rotation needs a stored password (--secret)");
  }
  return audited<core::Done>(
      db_, clock_, a, "asset.credential_set", "asset:" + asset,
      [&](store::AccessRepository& repo, std::string& details) -> core::Status {
        auto found = repo.assetByName(asset);
        if (!found) return found.error();
        const core::Endpoint* ep = found->endpointFor(protocol);
        if (ep == nullptr) {
          return fail(ErrorCode::not_found, "asset " + asset + " has no " +
                                                std::string(core::protocolName(protocol)) +
                                                " endpoint");
        }
        details = auditDetails({{"protocol", std::string(core::protocolName(protocol))},
                                {"secret", secretName.empty() ? "(certificate)" : secretName},
                                {"rotation", rotationCommand}});
        auto st =
            store::VaultRepository(db_).setEndpointCredential(ep->id, secretName, rotationCommand);
        if (!st && st.error().code == ErrorCode::conflict) {
          return fail(ErrorCode::not_found, "no vault secret named " + secretName);
        }
        return st;
      });
}

core::Result<core::Asset> AdminService::addAsset(const Actor& a, core::Asset asset) {
  if (auto st = checkName("asset", asset.name); !st) return st.error();
  if (asset.maxSessions < 1) {
    return fail(ErrorCode::invalid_argument, "max sessions must be at least 1");
  }
  for (const auto& e : asset.endpoints) {
    if (e.host.empty() || e.port == 0) {
      return fail(
          ErrorCode::invalid_argument,
          "endpoint " + std::string(core::protocolName(e.protocol)) + " needs a host and a port");
    }
    if ((e.protocol == core::Protocol::ssh || e.protocol == core::Protocol::rdp) &&
        e.account.empty()) {
      return fail(ErrorCode::invalid_argument, "endpoint " +
                                                   std::string(core::protocolName(e.protocol)) +
                                                   " needs the account the broker logs in as");
    }
  }
  return audited<core::Asset>(
      db_, clock_, a, "asset.created", "asset:" + asset.name,
      [&](store::AccessRepository& repo, std::string& details) -> core::Result<core::Asset> {
        auto id = repo.insertAsset(asset, clock_.now());
        if (!id) return id.error();
        asset.id = *id;
        std::string endpoints;
        for (const auto& e : asset.endpoints) {
          endpoints += (endpoints.empty() ? "" : ",") +
                       std::string(core::protocolName(e.protocol)) + "://" + e.host + ":" +
                       std::to_string(e.port);
        }
        details =
            auditDetails({{"zone", asset.zone},
                          {"site", asset.site},
                          {"criticality", std::string(core::criticalityName(asset.criticality))},
                          {"owner_group", asset.ownerGroup},
                          {"endpoints", endpoints}});
        return asset;
      });
}

core::Result<core::Asset> AdminService::setAssetDisabled(const Actor& a, const std::string& name,
                                                         bool disabled) {
  return audited<core::Asset>(
      db_, clock_, a, disabled ? "asset.disabled" : "asset.enabled", "asset:" + name,
      [&](store::AccessRepository& repo, std::string&) -> core::Result<core::Asset> {
        auto asset = repo.assetByName(name);
        if (!asset) return asset.error();
        if (auto st = repo.setAssetDisabled(asset->id, disabled); !st) return st.error();
        asset->disabled = disabled;
        return std::move(*asset);
      });
}

core::Status AdminService::pinRdpCertificate(const Actor& a, const std::string& asset,
                                             const std::string& fingerprint) {
  const auto fp = core::normalizeSha256Fingerprint(fingerprint);
  if (!fp) {
    return fail(ErrorCode::invalid_argument,
                "an RDP certificate fingerprint is its SHA-256: 64 hex digits");
  }
  return audited<core::Done>(
      db_, clock_, a, "asset.certificate_pinned", "asset:" + asset,
      [&](store::AccessRepository& repo, std::string& details) -> core::Status {
        auto found = repo.assetByName(asset);
        if (!found) return found.error();
        const core::Endpoint* ep = found->endpointFor(core::Protocol::rdp);
        if (ep == nullptr) return fail(ErrorCode::not_found, asset + " has no rdp endpoint");
        details = auditDetails({{"protocol", "rdp"},
                                {"fingerprint", *fp},
                                {"previous", ep->pinnedKey.empty() ? "(none)" : ep->pinnedKey}});
        return repo.setEndpointPinnedKey(ep->id, *fp);
      });
}

core::Status AdminService::removeAsset(const Actor& a, const std::string& name) {
  return audited<core::Done>(db_, clock_, a, "asset.removed", "asset:" + name,
                             [&](store::AccessRepository& repo, std::string&) -> core::Status {
                               auto asset = repo.assetByName(name);
                               if (!asset) return asset.error();
                               return repo.deleteAsset(asset->id);
                             });
}

}  // namespace conduit::access
