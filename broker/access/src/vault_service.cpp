#include "conduit/access/vault_service.hpp"

#include "conduit/access/audit_details.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/database.hpp"
#include "conduit/vault/envelope.hpp"

namespace conduit::access {

using core::ErrorCode;
using core::fail;

CredentialLease::CredentialLease(CredentialLease&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      name_(std::move(other.name_)),
      value_(std::move(other.value_)),
      exclusive_(other.exclusive_) {}

CredentialLease::~CredentialLease() {
  if (owner_ != nullptr && exclusive_) owner_->release(name_);
}

void VaultService::release(const std::string& name) {
  std::lock_guard lock(mutex_);
  exclusiveLeases_.erase(name);
}

core::Status VaultService::initialise(store::Database& db, const core::Clock& clock,
                                      const vault::MasterKey& key,
                                      const std::optional<vault::PassphraseKdf>& kdf) {
  store::VaultRepository repo(db);
  auto tx = store::Transaction::begin(db);
  if (!tx) return tx.error();
  if (repo.currentMasterKey()) {
    return fail(ErrorCode::already_exists, "the vault already has a master key");
  }
  store::MasterKeyRecord rec;
  rec.keyCheck = vault::makeKeyCheck(key);
  rec.kdf = kdf ? "argon2id" : "key-file";
  if (kdf) {
    rec.kdfSalt = kdf->salt;
    rec.kdfOps = static_cast<std::int64_t>(kdf->opsLimit);
    rec.kdfMem = static_cast<std::int64_t>(kdf->memLimit);
  }
  if (auto id = repo.insertMasterKey(rec, clock.now()); !id) return id.error();
  store::AuditLog log(db);
  if (auto e = log.append({"system", "cli", "credential", "vault.initialised", "vault",
                           core::AuditOutcome::success, auditDetails({{"kdf", rec.kdf}})},
                          clock.now());
      !e) {
    return e.error();
  }
  return tx->commit();
}

core::Status VaultService::unsealWithKey(vault::MasterKey key) {
  store::VaultRepository repo(db_);
  auto rec = repo.currentMasterKey();
  if (!rec) return rec.error();
  if (!vault::verifyKeyCheck(key, rec->keyCheck)) {
    return fail(ErrorCode::permission_denied,
                "wrong master key: it does not open this vault (wrong key file or passphrase)");
  }
  std::lock_guard lock(mutex_);
  master_ = std::move(key);
  masterId_ = rec->id;
  return core::Done{};
}

core::Status VaultService::unsealWithKeyFile(const std::filesystem::path& file) {
  auto key = vault::loadMasterKeyFile(file);
  if (!key) return key.error();
  return unsealWithKey(std::move(*key));
}

core::Status VaultService::unsealWithPassphrase(std::string_view passphrase) {
  store::VaultRepository repo(db_);
  auto rec = repo.currentMasterKey();
  if (!rec) return rec.error();
  if (rec->kdf != "argon2id") {
    return fail(ErrorCode::invalid_argument,
                "this vault is unsealed with a key file, not a passphrase");
  }
  vault::PassphraseKdf kdf{rec->kdfSalt, static_cast<unsigned long long>(rec->kdfOps),
                           static_cast<std::size_t>(rec->kdfMem)};
  auto key = vault::deriveMasterKey(passphrase, kdf);
  if (!key) return key.error();
  return unsealWithKey(std::move(*key));
}

bool VaultService::sealed() const {
  std::lock_guard lock(mutex_);
  return !master_.has_value();
}

core::Result<bool> VaultService::passphraseProtected() {
  auto rec = store::VaultRepository(db_).currentMasterKey();
  if (!rec) return rec.error();
  return rec->kdf == "argon2id";
}

core::Status VaultService::requireUnsealed() const {
  if (!master_) {
    return fail(ErrorCode::unavailable,
                "the vault is sealed: start the broker with its master key file or passphrase");
  }
  return core::Done{};
}

core::Result<store::SecretRecord> VaultService::put(const Actor& actor, const std::string& name,
                                                    const std::string& kind,
                                                    std::span<const unsigned char> value,
                                                    bool exclusive,
                                                    const std::string& description) {
  if (name.empty() || name.size() > 128) {
    return fail(ErrorCode::invalid_argument, "a secret name has 1-128 characters");
  }
  if (!kSecretKinds.contains(kind)) {
    return fail(ErrorCode::invalid_argument, "unknown secret kind '" + kind + "'");
  }
  if (value.empty()) return fail(ErrorCode::invalid_argument, "the secret value is empty");
  std::lock_guard lock(mutex_);
  if (auto st = requireUnsealed(); !st) return st.error();
  store::VaultRepository repo(db_);
  auto tx = store::Transaction::begin(db_);
  if (!tx) return tx.error();
  auto existing = repo.secret(name);
  std::uint32_t version = 1;
  if (existing) {
    version = existing->version + 1;
  } else if (existing.error().code != ErrorCode::not_found) {
    return existing.error();
  }
  auto sealed = vault::sealSecret(*master_, name, version, value);
  if (!sealed) return sealed.error();
  store::SecretRecord rec;
  rec.name = name;
  rec.kind = kind;
  rec.version = version;
  rec.masterKeyId = masterId_;
  rec.wrappedKey = std::move(sealed->wrappedKey);
  rec.ciphertext = std::move(sealed->ciphertext);
  rec.exclusive = exclusive;
  rec.description = description;
  auto stored = repo.put(rec, clock_.now());
  if (!stored) return stored.error();
  store::AuditLog log(db_);
  if (auto e = log.append(
          {actor.username, actor.source, "credential",
           version == 1 ? "secret.created" : "secret.replaced", "secret:" + name,
           core::AuditOutcome::success,
           auditDetails(
               {{"kind", kind}, {"version", std::int64_t{version}}, {"exclusive", exclusive}})},
          clock_.now());
      !e) {
    return e.error();
  }
  if (auto st = tx->commit(); !st) return st.error();
  stored->wrappedKey.clear();
  stored->ciphertext.clear();
  return std::move(*stored);
}

core::Result<std::vector<store::SecretRecord>> VaultService::list() {
  return store::VaultRepository(db_).list();
}

core::Status VaultService::remove(const Actor& actor, const std::string& name) {
  std::lock_guard lock(mutex_);
  auto tx = store::Transaction::begin(db_);
  if (!tx) return tx.error();
  if (auto st = store::VaultRepository(db_).remove(name); !st) return st;
  store::AuditLog log(db_);
  if (auto e = log.append({actor.username, actor.source, "credential", "secret.removed",
                           "secret:" + name, core::AuditOutcome::success, "{}"},
                          clock_.now());
      !e) {
    return e.error();
  }
  return tx->commit();
}

core::Result<CredentialLease> VaultService::checkout(const Actor& actor, const std::string& name,
                                                     const std::string& purpose) {
  std::lock_guard lock(mutex_);
  store::AuditLog log(db_);
  auto audit = [&](core::AuditOutcome outcome, const std::string& why) -> core::Status {
    auto tx = store::Transaction::begin(db_);
    if (!tx) return tx.error();
    auto e = log.append(
        {actor.username, actor.source, "credential", "credential.checkout", "secret:" + name,
         outcome, auditDetails({{"purpose", purpose}, {"reason", why}})},
        clock_.now());
    if (!e) return e.error();
    return tx->commit();
  };
  if (auto st = requireUnsealed(); !st) {
    (void)audit(core::AuditOutcome::failure, st.error().message);
    return st.error();
  }
  auto rec = store::VaultRepository(db_).secret(name);
  if (!rec) {
    (void)audit(core::AuditOutcome::failure, rec.error().message);
    return rec.error();
  }
  if (rec->exclusive && exclusiveLeases_.contains(name)) {
    const auto e = fail(ErrorCode::conflict, "secret " + name +
                                                 " is exclusive and already checked out by a "
                                                 "live session");
    (void)audit(core::AuditOutcome::failure, e.message);
    return e;
  }
  auto value = vault::openSecret(*master_, name, rec->version, {rec->wrappedKey, rec->ciphertext});
  if (!value) {
    (void)audit(core::AuditOutcome::failure, value.error().message);
    return value.error();
  }
  // No audit event, no credential (fail closed).
  if (auto st = audit(core::AuditOutcome::success, ""); !st) return st.error();
  if (rec->exclusive) exclusiveLeases_.insert(name);
  return CredentialLease(this, name, std::move(*value), rec->exclusive);
}

core::Result<vault::SecretBuffer> VaultService::openLoginFactor(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (auto st = requireUnsealed(); !st) return st.error();
  auto rec = store::VaultRepository(db_).secret(name);
  if (!rec) return rec.error();
  if (rec->kind != "totp_seed") {
    return fail(ErrorCode::permission_denied, "secret " + name + " is not a login factor");
  }
  return vault::openSecret(*master_, name, rec->version, {rec->wrappedKey, rec->ciphertext});
}

core::Result<vault::SecretBuffer> VaultService::openBrokerKey(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (auto st = requireUnsealed(); !st) return st.error();
  auto rec = store::VaultRepository(db_).secret(name);
  if (!rec) return rec.error();
  if (rec->kind != "signing_key") {
    return fail(ErrorCode::permission_denied, "secret " + name + " is not a broker key");
  }
  return vault::openSecret(*master_, name, rec->version, {rec->wrappedKey, rec->ciphertext});
}

core::Status VaultService::rotateMasterKey(const Actor& actor, vault::MasterKey newKey,
                                           const std::optional<vault::PassphraseKdf>& kdf) {
  std::lock_guard lock(mutex_);
  if (auto st = requireUnsealed(); !st) return st;
  store::VaultRepository repo(db_);
  auto tx = store::Transaction::begin(db_);
  if (!tx) return tx.error();
  store::MasterKeyRecord rec;
  rec.keyCheck = vault::makeKeyCheck(newKey);
  rec.kdf = kdf ? "argon2id" : "key-file";
  if (kdf) {
    rec.kdfSalt = kdf->salt;
    rec.kdfOps = static_cast<std::int64_t>(kdf->opsLimit);
    rec.kdfMem = static_cast<std::int64_t>(kdf->memLimit);
  }
  auto newId = repo.insertMasterKey(rec, clock_.now());
  if (!newId) return newId.error();
  auto all = repo.list();
  if (!all) return all.error();
  for (const auto& meta : *all) {
    auto full = repo.secret(meta.name);
    if (!full) return full.error();
    auto moved = vault::rewrapSecret(*master_, newKey, full->name, full->version,
                                     {full->wrappedKey, full->ciphertext});
    if (!moved) {
      return fail(moved.error().code, "secret " + full->name + " could not be re-wrapped: " +
                                          moved.error().message + "; nothing was changed");
    }
    full->wrappedKey = std::move(moved->wrappedKey);
    full->ciphertext = std::move(moved->ciphertext);
    full->masterKeyId = *newId;
    if (auto st = repo.rewrap(*full); !st) return st;
  }
  if (auto st = repo.retireMasterKey(masterId_, clock_.now()); !st) return st;
  store::AuditLog log(db_);
  if (auto e = log.append(
          {actor.username, actor.source, "credential", "vault.master_key_rotated", "vault",
           core::AuditOutcome::success,
           auditDetails({{"secrets", static_cast<std::int64_t>(all->size())}, {"kdf", rec.kdf}})},
          clock_.now());
      !e) {
    return e.error();
  }
  if (auto st = tx->commit(); !st) return st;
  master_ = std::move(newKey);
  masterId_ = *newId;
  return core::Done{};
}

}  // namespace conduit::access
