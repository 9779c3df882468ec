// Vendors, engineer groups and users.
#include "conduit/store/access_repository.hpp"
#include "row_helpers.hpp"

namespace conduit::store {

using core::ErrorCode;
using core::fail;
using namespace detail;

namespace {

core::Error describeConflict(const core::Error& e, const std::string& what) {
  if (e.code != ErrorCode::conflict) return e;
  if (e.message.find("UNIQUE") != std::string::npos) {
    return {ErrorCode::already_exists, what + " already exists"};
  }
  if (e.message.find("FOREIGN KEY") != std::string::npos) {
    return {ErrorCode::conflict,
            what + " is still referenced (it has history); disable it instead"};
  }
  return {ErrorCode::conflict, what + ": " + e.message};
}

core::VendorOrg readVendor(const Statement& s) {
  return core::VendorOrg{s.columnInt(0), s.columnText(1), s.columnText(2), optionalTime(s, 3),
                         s.columnInt(4) != 0};
}

constexpr const char* kVendorColumns = "id, name, contact, contract_end, disabled";
constexpr const char* kUserColumns =
    "u.id, u.username, u.display_name, u.vendor_id, COALESCE(v.name, ''), u.disabled, "
    "u.expires_at";

}  // namespace

core::Result<std::int64_t> AccessRepository::insertVendor(const core::VendorOrg& v,
                                                          core::TimePoint now) {
  auto s = db_.prepare(
      "INSERT INTO vendors(name, contact, contract_end, disabled, created_at) "
      "VALUES(?1, ?2, ?3, ?4, ?5)");
  if (!s) return s.error();
  s->bind(1, v.name).bind(2, v.contact).bind(4, std::int64_t{v.disabled}).bind(5, unix(now));
  bindOptionalTime(*s, 3, v.contractEnd);
  if (auto st = s->run(); !st) return describeConflict(st.error(), "vendor " + v.name);
  return db_.lastInsertId();
}

core::Result<core::VendorOrg> AccessRepository::vendor(std::int64_t id) {
  auto s = db_.prepare(std::string("SELECT ") + kVendorColumns + " FROM vendors WHERE id = ?1");
  if (!s) return s.error();
  auto row = s->bind(1, id).step();
  if (!row) return row.error();
  if (!*row) return fail(ErrorCode::not_found, "vendor " + std::to_string(id) + " not found");
  return readVendor(*s);
}

core::Result<core::VendorOrg> AccessRepository::vendorByName(const std::string& name) {
  auto s = db_.prepare(std::string("SELECT ") + kVendorColumns + " FROM vendors WHERE name = ?1");
  if (!s) return s.error();
  auto row = s->bind(1, name).step();
  if (!row) return row.error();
  if (!*row) return fail(ErrorCode::not_found, "vendor " + name + " not found");
  return readVendor(*s);
}

core::Result<std::vector<core::VendorOrg>> AccessRepository::vendors() {
  auto s = db_.prepare(std::string("SELECT ") + kVendorColumns + " FROM vendors ORDER BY name");
  if (!s) return s.error();
  std::vector<core::VendorOrg> out;
  while (true) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(readVendor(*s));
  }
}

core::Status AccessRepository::updateVendor(const core::VendorOrg& v) {
  auto s = db_.prepare(
      "UPDATE vendors SET contact = ?2, contract_end = ?3, disabled = ?4 WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, v.id).bind(2, v.contact).bind(4, std::int64_t{v.disabled});
  bindOptionalTime(*s, 3, v.contractEnd);
  return runOne(db_, *s, "vendor " + v.name);
}

core::Status AccessRepository::deleteVendor(std::int64_t id) {
  auto s = db_.prepare("DELETE FROM vendors WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, id);
  auto st = runOne(db_, *s, "vendor " + std::to_string(id));
  if (!st) return describeConflict(st.error(), "vendor " + std::to_string(id));
  return st;
}

core::Result<std::int64_t> AccessRepository::insertGroup(const core::EngineerGroup& g) {
  auto s = db_.prepare("INSERT INTO engineer_groups(name, description) VALUES(?1, ?2)");
  if (!s) return s.error();
  if (auto st = s->bind(1, g.name).bind(2, g.description).run(); !st) {
    return describeConflict(st.error(), "group " + g.name);
  }
  return db_.lastInsertId();
}

core::Result<core::EngineerGroup> AccessRepository::groupByName(const std::string& name) {
  auto s = db_.prepare("SELECT id, name, description FROM engineer_groups WHERE name = ?1");
  if (!s) return s.error();
  auto row = s->bind(1, name).step();
  if (!row) return row.error();
  if (!*row) return fail(ErrorCode::not_found, "group " + name + " not found");
  return core::EngineerGroup{s->columnInt(0), s->columnText(1), s->columnText(2)};
}

core::Result<std::vector<core::EngineerGroup>> AccessRepository::groups() {
  auto s = db_.prepare("SELECT id, name, description FROM engineer_groups ORDER BY name");
  if (!s) return s.error();
  std::vector<core::EngineerGroup> out;
  while (true) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back({s->columnInt(0), s->columnText(1), s->columnText(2)});
  }
}

core::Status AccessRepository::deleteGroup(std::int64_t id) {
  auto s = db_.prepare("DELETE FROM engineer_groups WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, id);
  auto st = runOne(db_, *s, "group " + std::to_string(id));
  if (!st) return describeConflict(st.error(), "group " + std::to_string(id));
  return st;
}

core::Status AccessRepository::writeRolesAndGroups(const core::User& u) {
  auto clearRoles = db_.prepare("DELETE FROM user_roles WHERE user_id = ?1");
  auto clearGroups = db_.prepare("DELETE FROM group_members WHERE user_id = ?1");
  if (!clearRoles) return clearRoles.error();
  if (!clearGroups) return clearGroups.error();
  if (auto st = clearRoles->bind(1, u.id).run(); !st) return st;
  if (auto st = clearGroups->bind(1, u.id).run(); !st) return st;
  auto role = db_.prepare("INSERT INTO user_roles(user_id, role) VALUES(?1, ?2)");
  if (!role) return role.error();
  for (core::Role r : u.roles) {
    role->reset();
    if (auto st = role->bind(1, u.id).bind(2, core::roleName(r)).run(); !st) return st;
  }
  auto member = db_.prepare(
      "INSERT INTO group_members(group_id, user_id) "
      "SELECT id, ?2 FROM engineer_groups WHERE name = ?1");
  if (!member) return member.error();
  for (const auto& g : u.groups) {
    member->reset();
    if (auto st = member->bind(1, g).bind(2, u.id).run(); !st) return st;
    if (db_.changes() == 0) return fail(ErrorCode::not_found, "group " + g + " not found");
  }
  return core::Done{};
}

core::Result<std::int64_t> AccessRepository::insertUser(const core::User& u,
                                                        const std::string& passwordHash,
                                                        core::TimePoint now) {
  auto s = db_.prepare(
      "INSERT INTO users(username, display_name, vendor_id, disabled, expires_at, password_hash, "
      "created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!s) return s.error();
  s->bind(1, u.username)
      .bind(2, u.displayName)
      .bind(4, std::int64_t{u.disabled})
      .bind(7, unix(now));
  if (u.vendorId) {
    s->bind(3, *u.vendorId);
  } else {
    s->bindNull(3);
  }
  bindOptionalTime(*s, 5, u.expiresAt);
  if (passwordHash.empty()) {
    s->bindNull(6);
  } else {
    s->bind(6, passwordHash);
  }
  if (auto st = s->run(); !st) return describeConflict(st.error(), "user " + u.username);
  core::User stored = u;
  stored.id = db_.lastInsertId();
  if (auto st = writeRolesAndGroups(stored); !st) return st.error();
  return stored.id;
}

core::Result<core::User> AccessRepository::loadUser(const char* where, std::int64_t id,
                                                    const std::string& name) {
  auto s = db_.prepare(std::string("SELECT ") + kUserColumns +
                       " FROM users u LEFT JOIN vendors v ON v.id = u.vendor_id WHERE " + where);
  if (!s) return s.error();
  bindIdOrName(*s, id, name);
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return fail(ErrorCode::not_found, describeIdOrName("user", id, name) + " not found");
  core::User u;
  u.id = s->columnInt(0);
  u.username = s->columnText(1);
  u.displayName = s->columnText(2);
  if (!s->columnIsNull(3)) u.vendorId = s->columnInt(3);
  u.vendorName = s->columnText(4);
  u.disabled = s->columnInt(5) != 0;
  u.expiresAt = optionalTime(*s, 6);
  auto roles = db_.prepare("SELECT role FROM user_roles WHERE user_id = ?1");
  if (!roles) return roles.error();
  roles->bind(1, u.id);
  while (true) {
    auto r = roles->step();
    if (!r) return r.error();
    if (!*r) break;
    if (auto role = core::parseRole(roles->columnText(0))) u.roles.insert(*role);
  }
  auto groups = db_.prepare(
      "SELECT g.name FROM group_members m JOIN engineer_groups g ON g.id = m.group_id "
      "WHERE m.user_id = ?1");
  if (!groups) return groups.error();
  groups->bind(1, u.id);
  while (true) {
    auto r = groups->step();
    if (!r) return r.error();
    if (!*r) break;
    u.groups.insert(groups->columnText(0));
  }
  return u;
}

core::Result<core::User> AccessRepository::user(std::int64_t id) {
  return loadUser("u.id = ?1", id, "");
}

core::Result<core::User> AccessRepository::userByName(const std::string& username) {
  if (username.empty()) return fail(ErrorCode::not_found, "user name is empty");
  return loadUser("u.username = ?1", 0, username);
}

core::Result<std::vector<core::User>> AccessRepository::users() {
  auto s = db_.prepare("SELECT id FROM users ORDER BY username");
  if (!s) return s.error();
  return loadEach<core::User>(*s, [this](std::int64_t id) { return user(id); });
}

core::Result<std::vector<core::User>> AccessRepository::usersOfVendor(std::int64_t vendorId) {
  auto all = users();
  if (!all) return all.error();
  std::vector<core::User> out;
  for (auto& u : *all) {
    if (u.vendorId == vendorId) out.push_back(std::move(u));
  }
  return out;
}

core::Status AccessRepository::updateUser(const core::User& u) {
  auto s = db_.prepare(
      "UPDATE users SET display_name = ?2, disabled = ?3, expires_at = ?4 WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, u.id).bind(2, u.displayName).bind(3, std::int64_t{u.disabled});
  bindOptionalTime(*s, 4, u.expiresAt);
  if (auto st = runOne(db_, *s, "user " + u.username); !st) return st;
  return writeRolesAndGroups(u);
}

core::Status AccessRepository::deleteUser(std::int64_t id) {
  auto s = db_.prepare("DELETE FROM users WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, id);
  auto st = runOne(db_, *s, "user " + std::to_string(id));
  if (!st) return describeConflict(st.error(), "user " + std::to_string(id));
  return st;
}

core::Result<UserCredentials> AccessRepository::credentials(std::int64_t userId) {
  auto s = db_.prepare(
      "SELECT password_hash, totp_seed, totp_seed_sealed, totp_last_step, failed_logins, "
      "locked_until FROM users WHERE id = ?1");
  if (!s) return s.error();
  auto row = s->bind(1, userId).step();
  if (!row) return row.error();
  if (!*row) return fail(ErrorCode::not_found, "user " + std::to_string(userId) + " not found");
  UserCredentials c;
  c.passwordHash = s->columnOptionalText(0);
  c.totpSeed = s->columnBlob(1);
  c.totpSeedSealed = s->columnInt(2) != 0;
  c.totpLastStep = s->columnInt(3);
  c.failedLogins = static_cast<int>(s->columnInt(4));
  c.lockedUntil = optionalTime(*s, 5);
  return c;
}

core::Status AccessRepository::setPasswordHash(std::int64_t userId, const std::string& hash) {
  auto s = db_.prepare("UPDATE users SET password_hash = ?2 WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, userId).bind(2, hash);
  return runOne(db_, *s, "user " + std::to_string(userId));
}

core::Status AccessRepository::setTotpSeed(std::int64_t userId,
                                           const std::vector<unsigned char>& seed, bool sealed) {
  auto s = db_.prepare(
      "UPDATE users SET totp_seed = ?2, totp_seed_sealed = ?3, totp_last_step = 0 WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, userId).bind(3, std::int64_t{sealed});
  if (seed.empty()) {
    s->bindNull(2);
  } else {
    s->bindBlob(2, seed.data(), seed.size());
  }
  return runOne(db_, *s, "user " + std::to_string(userId));
}

core::Status AccessRepository::setLoginCounters(std::int64_t userId, int failedLogins,
                                                std::optional<core::TimePoint> lockedUntil,
                                                std::optional<std::int64_t> totpLastStep) {
  auto s = db_.prepare(
      "UPDATE users SET failed_logins = ?2, locked_until = ?3, "
      "totp_last_step = COALESCE(?4, totp_last_step) WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, userId).bind(2, std::int64_t{failedLogins});
  bindOptionalTime(*s, 3, lockedUntil);
  if (totpLastStep) {
    s->bind(4, *totpLastStep);
  } else {
    s->bindNull(4);
  }
  return runOne(db_, *s, "user " + std::to_string(userId));
}

core::Status AccessRepository::addSshKey(std::int64_t userId, const std::string& keyLine,
                                         const std::string& comment, core::TimePoint now) {
  auto s = db_.prepare(
      "INSERT INTO user_ssh_keys(user_id, key_line, comment, created_at) VALUES(?1, ?2, ?3, ?4)");
  if (!s) return s.error();
  s->bind(1, userId).bind(2, keyLine).bind(3, comment).bind(4, unix(now));
  if (auto st = s->run(); !st) return describeConflict(st.error(), "this key");
  return core::Done{};
}

core::Result<bool> AccessRepository::hasSshKey(std::int64_t userId, const std::string& keyLine) {
  auto s = db_.prepare("SELECT 1 FROM user_ssh_keys WHERE user_id = ?1 AND key_line = ?2");
  if (!s) return s.error();
  auto row = s->bind(1, userId).bind(2, keyLine).step();
  if (!row) return row.error();
  return *row;
}

core::Result<std::vector<std::string>> AccessRepository::sshKeys(std::int64_t userId) {
  auto s = db_.prepare(
      "SELECT key_line || CASE WHEN comment = '' THEN '' ELSE ' ' || comment END "
      "FROM user_ssh_keys WHERE user_id = ?1 ORDER BY id");
  if (!s) return s.error();
  s->bind(1, userId);
  std::vector<std::string> out;
  while (true) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(s->columnText(0));
  }
}

core::Result<std::string> AccessRepository::endpointCredential(std::int64_t endpointId) {
  auto s = db_.prepare("SELECT COALESCE(credential_secret, '') FROM endpoints WHERE id = ?1");
  if (!s) return s.error();
  auto row = s->bind(1, endpointId).step();
  if (!row) return row.error();
  if (!*row) return fail(ErrorCode::not_found, "endpoint not found");
  return s->columnText(0);
}

}  // namespace conduit::store
