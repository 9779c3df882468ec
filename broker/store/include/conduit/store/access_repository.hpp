#pragma once

#include <optional>
#include <string>
#include <vector>

#include "conduit/core/access_request.hpp"
#include "conduit/core/asset.hpp"
#include "conduit/core/identity.hpp"
#include "conduit/core/result.hpp"

namespace conduit::store {

class Database;

/// Login secrets and counters of a user. Never leaves the broker; never logged.
struct UserCredentials {
  std::optional<std::string> passwordHash;  // argon2id encoded
  std::vector<unsigned char> totpSeed;      // empty: not enrolled
  bool totpSeedSealed = false;              // false: stored plainly (until the vault exists)
  std::int64_t totpLastStep = 0;
  int failedLogins = 0;
  std::optional<core::TimePoint> lockedUntil;
};

/// Filters for listing requests; unset fields match everything.
struct RequestFilter {
  std::optional<core::RequestState> state;
  std::optional<std::int64_t> requesterId;
  std::optional<std::int64_t> vendorId;
  std::optional<std::string> ownerGroup;
};

/// Rows of the access workflow: vendors, users, groups, assets, requests, votes and grants.
/// Every method is one or a few prepared statements; transactions are the caller's, so that a
/// change and its audit event commit together. `not_found` for unknown ids and names,
/// `conflict` for unique or foreign-key violations.
class AccessRepository {
 public:
  explicit AccessRepository(Database& db) : db_(db) {}

  // Vendors
  core::Result<std::int64_t> insertVendor(const core::VendorOrg& v, core::TimePoint now);
  core::Result<core::VendorOrg> vendor(std::int64_t id);
  core::Result<core::VendorOrg> vendorByName(const std::string& name);
  core::Result<std::vector<core::VendorOrg>> vendors();
  core::Status updateVendor(const core::VendorOrg& v);
  core::Status deleteVendor(std::int64_t id);

  // Engineer groups
  core::Result<std::int64_t> insertGroup(const core::EngineerGroup& g);
  core::Result<core::EngineerGroup> groupByName(const std::string& name);
  core::Result<std::vector<core::EngineerGroup>> groups();
  core::Status deleteGroup(std::int64_t id);

  // Users (roles and group memberships included)
  core::Result<std::int64_t> insertUser(const core::User& u, const std::string& passwordHash,
                                        core::TimePoint now);
  core::Result<core::User> user(std::int64_t id);
  core::Result<core::User> userByName(const std::string& username);
  core::Result<std::vector<core::User>> users();
  core::Result<std::vector<core::User>> usersOfVendor(std::int64_t vendorId);
  /// Writes disabled/expiry/display name/roles/groups (not credentials).
  core::Status updateUser(const core::User& u);
  core::Status deleteUser(std::int64_t id);
  core::Result<UserCredentials> credentials(std::int64_t userId);
  core::Status setPasswordHash(std::int64_t userId, const std::string& hash);
  core::Status setTotpSeed(std::int64_t userId, const std::vector<unsigned char>& seed,
                           bool sealed);
  core::Status setLoginCounters(std::int64_t userId, int failedLogins,
                                std::optional<core::TimePoint> lockedUntil,
                                std::optional<std::int64_t> totpLastStep);

  /// Registers an SSH public key ("type base64") for a user.
  core::Status addSshKey(std::int64_t userId, const std::string& keyLine,
                         const std::string& comment, core::TimePoint now);
  core::Result<bool> hasSshKey(std::int64_t userId, const std::string& keyLine);
  core::Result<std::vector<std::string>> sshKeys(std::int64_t userId);
  /// The endpoint's stored credential (vault secret name), empty for certificate logins.
  core::Result<std::string> endpointCredential(std::int64_t endpointId);

  // Assets (endpoints and tags included)
  core::Result<std::int64_t> insertAsset(const core::Asset& a, core::TimePoint now);
  core::Result<core::Asset> asset(std::int64_t id);
  core::Result<core::Asset> assetByName(const std::string& name);
  core::Result<std::vector<core::Asset>> assets();
  core::Status setAssetDisabled(std::int64_t id, bool disabled);
  /// An endpoint's pinned host key (ssh) or certificate fingerprint (rdp).
  core::Status setEndpointPinnedKey(std::int64_t endpointId, const std::string& pinnedKey);
  core::Status deleteAsset(std::int64_t id);

  // Requests and votes
  core::Result<std::int64_t> insertRequest(const core::AccessRequest& r);
  core::Result<core::AccessRequest> request(std::int64_t id);
  core::Result<std::vector<core::AccessRequest>> requests(const RequestFilter& filter);
  /// Writes state and decided_at, and inserts votes not yet stored.
  core::Status updateRequest(const core::AccessRequest& r);

  // Grants
  core::Result<std::int64_t> insertGrant(const core::Grant& g);
  core::Result<core::Grant> grant(std::int64_t id);
  core::Result<std::vector<core::Grant>> grantsFor(std::int64_t userId, std::int64_t assetId);
  /// Grants of a user (all of them if userId is unset), newest first.
  core::Result<std::vector<core::Grant>> grants(std::optional<std::int64_t> userId);
  core::Status updateGrantState(const core::Grant& g);

 private:
  core::Result<core::User> loadUser(const char* where, std::int64_t id, const std::string& name);
  core::Result<core::Asset> loadAsset(const char* where, std::int64_t id, const std::string& name);
  core::Result<core::AccessRequest> loadRequest(std::int64_t id);
  core::Status writeRolesAndGroups(const core::User& u);
  Database& db_;
};

/// AccessLimits as JSON text, as stored in requests and grants (and shown by the API).
std::string limitsToJson(const core::AccessLimits& limits);
core::Result<core::AccessLimits> limitsFromJson(const std::string& text);

}  // namespace conduit::store
