#pragma once

#include <optional>
#include <string>
#include <vector>

#include "conduit/access/actor.hpp"
#include "conduit/core/asset.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/core/identity.hpp"
#include "conduit/core/result.hpp"

namespace conduit::store {
class Database;
}

namespace conduit::access {

/// A new user as an administrator describes it.
struct NewUser {
  std::string username;
  std::string displayName;
  std::string vendor;  // vendor organisation name; empty for staff
  std::set<core::Role> roles;
  std::set<std::string> groups;
  std::string password;  // checked against the password rules, stored as argon2id only
  std::optional<core::TimePoint> expiresAt;
};

/// Administration of vendors, users, groups and assets. Every change is audited in the same
/// transaction; disabling a user or vendor revokes their grants in that transaction too.
class AdminService {
 public:
  AdminService(store::Database& db, const core::Clock& clock) : db_(db), clock_(clock) {}

  core::Result<core::VendorOrg> addVendor(const Actor& a, core::VendorOrg v);
  /// Disables or re-enables a vendor; disabling revokes every grant of its users.
  core::Result<core::VendorOrg> setVendorDisabled(const Actor& a, const std::string& name,
                                                  bool disabled);
  core::Result<core::VendorOrg> setVendorContractEnd(const Actor& a, const std::string& name,
                                                     std::optional<core::TimePoint> end);
  core::Status removeVendor(const Actor& a, const std::string& name);

  core::Result<core::EngineerGroup> addGroup(const Actor& a, core::EngineerGroup g);
  core::Status removeGroup(const Actor& a, const std::string& name);

  core::Result<core::User> addUser(const Actor& a, const NewUser& u);
  /// Disables or re-enables a user; disabling revokes the user's grants.
  core::Result<core::User> setUserDisabled(const Actor& a, const std::string& username,
                                           bool disabled);
  core::Status removeUser(const Actor& a, const std::string& username);
  core::Status setPassword(const Actor& a, const std::string& username,
                           const std::string& password);
  /// Forgets the user's TOTP seed (audited user.totp_reset) so that the next sign-in enrols a new
  /// one; not_found for an unknown user. The caller ends the user's portal sessions.
  core::Result<core::User> resetTotp(const Actor& a, const std::string& username);

  /// Registers a vendor's SSH public key ("ssh-ed25519 AAAA... comment") for the gateway.
  core::Status addSshKey(const Actor& a, const std::string& username, const std::string& keyText);

  /// Makes the broker log in to an asset's endpoint with a stored vault secret instead of a
  /// per-session certificate; an empty name switches back to certificates.
  core::Status setEndpointCredential(const Actor& a, const std::string& asset,
                                     core::Protocol protocol, const std::string& secretName,
                                     const std::string& rotationCommand = "");

  core::Result<core::Asset> addAsset(const Actor& a, core::Asset asset);
  /// Pins the certificate an asset's rdp endpoint must present (SHA-256, any common
  /// spelling; stored as 64 lowercase hex digits). Audited as asset.certificate_pinned with the
  /// old and new fingerprints.
  core::Status pinRdpCertificate(const Actor& a, const std::string& asset,
                                 const std::string& fingerprint);
  core::Result<core::Asset> setAssetDisabled(const Actor& a, const std::string& name,
                                             bool disabled);
  core::Status removeAsset(const Actor& a, const std::string& name);

 private:
  store::Database& db_;
  const core::Clock& clock_;
};

}  // namespace conduit::access
