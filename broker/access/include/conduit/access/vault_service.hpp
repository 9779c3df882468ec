#pragma once

#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "conduit/access/actor.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/core/result.hpp"
#include "conduit/store/vault_repository.hpp"
#include "conduit/vault/master_key.hpp"
#include "conduit/vault/secret.hpp"

namespace conduit::store {
class Database;
}

namespace conduit::access {

/// Kinds of stored secret (docs/vault.md).
inline const std::set<std::string> kSecretKinds{"password", "ssh_private_key", "totp_seed",
                                                "api_token", "signing_key"};

class VaultService;

/// A checked-out credential. For exclusive secrets (shared PLC accounts) it holds the only
/// lease until destroyed.
class CredentialLease {
 public:
  CredentialLease(CredentialLease&& other) noexcept;
  CredentialLease& operator=(CredentialLease&&) = delete;
  CredentialLease(const CredentialLease&) = delete;
  CredentialLease& operator=(const CredentialLease&) = delete;
  ~CredentialLease();

  const vault::SecretBuffer& value() const { return value_; }
  const std::string& name() const { return name_; }

 private:
  friend class VaultService;
  CredentialLease(VaultService* owner, std::string name, vault::SecretBuffer value, bool exclusive)
      : owner_(owner), name_(std::move(name)), value_(std::move(value)), exclusive_(exclusive) {}
  VaultService* owner_;
  std::string name_;
  vault::SecretBuffer value_;
  bool exclusive_;
};

/// The vault as the broker uses it: unseal, put (write-only), list metadata, check out (audited),
/// rotate the master key. Thread-safe.
class VaultService {
 public:
  VaultService(store::Database& db, const core::Clock& clock) : db_(db), clock_(clock) {}

  /// First-time setup: records the master key's check value. Fails with already_exists if the
  /// vault has a master key. `kdf` empty for a key file.
  static core::Status initialise(store::Database& db, const core::Clock& clock,
                                 const vault::MasterKey& key,
                                 const std::optional<vault::PassphraseKdf>& kdf);

  /// Unseals with a key file or a passphrase; `permission_denied` for the wrong key.
  core::Status unsealWithKeyFile(const std::filesystem::path& file);
  core::Status unsealWithPassphrase(std::string_view passphrase);
  core::Status unsealWithKey(vault::MasterKey key);
  bool sealed() const;
  /// Whether the stored master key is passphrase-derived (for prompts and /healthz).
  core::Result<bool> passphraseProtected();

  /// Stores (or replaces, as a new version) a secret. No interface returns a value.
  core::Result<store::SecretRecord> put(const Actor& actor, const std::string& name,
                                        const std::string& kind,
                                        std::span<const unsigned char> value, bool exclusive,
                                        const std::string& description);
  core::Result<std::vector<store::SecretRecord>> list();
  /// Deletes a secret (audited).
  core::Status remove(const Actor& actor, const std::string& name);

  /// Opens a secret for one use, writes a credential.checkout audit event first (no event, no
  /// credential). Exclusive secrets allow one live lease; a second gets `conflict`.
  core::Result<CredentialLease> checkout(const Actor& actor, const std::string& name,
                                         const std::string& purpose);

  /// Opens a login factor (a TOTP seed) to check a code. Not a credential checkout: the login
  /// that uses it is audited instead, and the value never leaves the broker.
  core::Result<vault::SecretBuffer> openLoginFactor(const std::string& name);

  /// Opens one of the broker's own keys (kind signing_key: recording keys) for internal use.
  /// Not a credential checkout: these keys never leave the broker.
  core::Result<vault::SecretBuffer> openBrokerKey(const std::string& name);

  /// Re-wraps every data key under newKey and retires the old master key, in one transaction.
  core::Status rotateMasterKey(const Actor& actor, vault::MasterKey newKey,
                               const std::optional<vault::PassphraseKdf>& kdf);

 private:
  friend class CredentialLease;
  void release(const std::string& name);
  core::Status requireUnsealed() const;

  store::Database& db_;
  const core::Clock& clock_;
  mutable std::mutex mutex_;
  std::optional<vault::MasterKey> master_;
  std::int64_t masterId_ = 0;
  std::set<std::string> exclusiveLeases_;
};

}  // namespace conduit::access
