#include "conduit/store/vault_repository.hpp"
#include "row_helpers.hpp"

namespace conduit::store {

using core::ErrorCode;
using core::fail;
using namespace detail;

namespace {

std::vector<unsigned char> blob(const Statement& s, int column) {
  return s.columnBlob(column);
}

void bindBytes(Statement& s, int index, const std::vector<unsigned char>& b) {
  if (b.empty()) {
    s.bindNull(index);
  } else {
    s.bindBlob(index, b.data(), b.size());
  }
}

constexpr const char* kSecretColumns =
    "id, name, kind, version, master_key_id, wrapped_key, ciphertext, exclusive, description, "
    "created_at, updated_at";

SecretRecord readSecret(const Statement& s, bool withBytes) {
  SecretRecord r;
  r.id = s.columnInt(0);
  r.name = s.columnText(1);
  r.kind = s.columnText(2);
  r.version = static_cast<std::uint32_t>(s.columnInt(3));
  r.masterKeyId = s.columnInt(4);
  if (withBytes) {
    r.wrappedKey = blob(s, 5);
    r.ciphertext = blob(s, 6);
  }
  r.exclusive = s.columnInt(7) != 0;
  r.description = s.columnText(8);
  r.createdAt = fromUnix(s.columnInt(9));
  r.updatedAt = fromUnix(s.columnInt(10));
  return r;
}

}  // namespace

core::Result<MasterKeyRecord> VaultRepository::currentMasterKey() {
  auto s = db_.prepare(
      "SELECT id, key_check, kdf, kdf_salt, kdf_ops, kdf_mem FROM vault_master_keys "
      "WHERE retired_at IS NULL ORDER BY id DESC LIMIT 1");
  if (!s) return s.error();
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return fail(ErrorCode::not_found, "the vault has no master key; run conduit init");
  MasterKeyRecord k;
  k.id = s->columnInt(0);
  k.keyCheck = blob(*s, 1);
  k.kdf = s->columnText(2);
  k.kdfSalt = blob(*s, 3);
  k.kdfOps = s->columnInt(4);
  k.kdfMem = s->columnInt(5);
  return k;
}

core::Result<std::int64_t> VaultRepository::insertMasterKey(const MasterKeyRecord& k,
                                                            core::TimePoint now) {
  auto s = db_.prepare(
      "INSERT INTO vault_master_keys(key_check, kdf, kdf_salt, kdf_ops, kdf_mem, created_at) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
  if (!s) return s.error();
  bindBytes(*s, 1, k.keyCheck);
  s->bind(2, k.kdf).bind(4, k.kdfOps).bind(5, k.kdfMem).bind(6, unix(now));
  bindBytes(*s, 3, k.kdfSalt);
  if (auto st = s->run(); !st) return st.error();
  return db_.lastInsertId();
}

core::Status VaultRepository::retireMasterKey(std::int64_t id, core::TimePoint now) {
  auto s = db_.prepare("UPDATE vault_master_keys SET retired_at = ?2 WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, id).bind(2, unix(now));
  return runOne(db_, *s, "master key " + std::to_string(id));
}

core::Result<SecretRecord> VaultRepository::secret(const std::string& name) {
  auto s = db_.prepare(std::string("SELECT ") + kSecretColumns + " FROM secrets WHERE name = ?1");
  if (!s) return s.error();
  auto row = s->bind(1, name).step();
  if (!row) return row.error();
  if (!*row) return fail(ErrorCode::not_found, "secret " + name + " not found");
  return readSecret(*s, true);
}

core::Result<std::vector<SecretRecord>> VaultRepository::list() {
  auto s = db_.prepare(std::string("SELECT ") + kSecretColumns + " FROM secrets ORDER BY name");
  if (!s) return s.error();
  std::vector<SecretRecord> out;
  while (true) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(readSecret(*s, false));
  }
}

core::Result<SecretRecord> VaultRepository::put(SecretRecord r, core::TimePoint now) {
  auto existing = secret(r.name);
  if (existing) {
    auto s = db_.prepare(
        "UPDATE secrets SET kind = ?2, version = ?3, master_key_id = ?4, wrapped_key = ?5, "
        "ciphertext = ?6, exclusive = ?7, description = ?8, updated_at = ?9 WHERE name = ?1");
    if (!s) return s.error();
    s->bind(1, r.name)
        .bind(2, r.kind)
        .bind(3, std::int64_t{r.version})
        .bind(4, r.masterKeyId)
        .bind(7, std::int64_t{r.exclusive})
        .bind(8, r.description)
        .bind(9, unix(now));
    bindBytes(*s, 5, r.wrappedKey);
    bindBytes(*s, 6, r.ciphertext);
    if (auto st = runOne(db_, *s, "secret " + r.name); !st) return st.error();
    r.id = existing->id;
    r.createdAt = existing->createdAt;
  } else if (existing.error().code != ErrorCode::not_found) {
    return existing.error();
  } else {
    auto s = db_.prepare(
        "INSERT INTO secrets(name, kind, version, master_key_id, wrapped_key, ciphertext, "
        "exclusive, description, created_at, updated_at) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)");
    if (!s) return s.error();
    s->bind(1, r.name)
        .bind(2, r.kind)
        .bind(3, std::int64_t{r.version})
        .bind(4, r.masterKeyId)
        .bind(7, std::int64_t{r.exclusive})
        .bind(8, r.description)
        .bind(9, unix(now));
    bindBytes(*s, 5, r.wrappedKey);
    bindBytes(*s, 6, r.ciphertext);
    if (auto st = s->run(); !st) return st.error();
    r.id = db_.lastInsertId();
    r.createdAt = now;
  }
  r.updatedAt = now;
  return r;
}

core::Status VaultRepository::rewrap(const SecretRecord& r) {
  auto s = db_.prepare(
      "UPDATE secrets SET master_key_id = ?2, wrapped_key = ?3, ciphertext = ?4 "
      "WHERE name = ?1 AND version = ?5");
  if (!s) return s.error();
  s->bind(1, r.name).bind(2, r.masterKeyId).bind(5, std::int64_t{r.version});
  bindBytes(*s, 3, r.wrappedKey);
  bindBytes(*s, 4, r.ciphertext);
  return runOne(db_, *s, "secret " + r.name);
}

core::Status VaultRepository::remove(const std::string& name) {
  auto s = db_.prepare("DELETE FROM secrets WHERE name = ?1");
  if (!s) return s.error();
  s->bind(1, name);
  return runOne(db_, *s, "secret " + name);
}

core::Status VaultRepository::setEndpointCredential(std::int64_t endpointId,
                                                    const std::string& secretName,
                                                    const std::string& rotationCommand) {
  auto s = db_.prepare(
      "UPDATE endpoints SET credential_secret = ?2, rotation_command = ?3 WHERE id = ?1");
  if (!s) return s.error();
  s->bind(1, endpointId).bind(3, rotationCommand);
  if (secretName.empty()) {
    s->bindNull(2);
  } else {
    s->bind(2, secretName);
  }
  return runOne(db_, *s, "endpoint " + std::to_string(endpointId));
}

core::Result<std::string> VaultRepository::endpointRotationCommand(std::int64_t endpointId) {
  auto s = db_.prepare("SELECT rotation_command FROM endpoints WHERE id = ?1");
  if (!s) return s.error();
  auto row = s->bind(1, endpointId).step();
  if (!row) return row.error();
  if (!*row) return fail(ErrorCode::not_found, "endpoint not found");
  return s->columnText(0);
}

}  // namespace conduit::store
