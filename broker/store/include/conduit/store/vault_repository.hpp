#pragma once

#include <optional>
#include <string>
#include <vector>

#include "conduit/core/clock.hpp"
#include "conduit/core/result.hpp"

namespace conduit::store {

class Database;

/// What the vault knows about a master key, without the key.
struct MasterKeyRecord {
  std::int64_t id = 0;
  std::vector<unsigned char> keyCheck;
  std::string kdf;  // "key-file" or "argon2id"
  std::vector<unsigned char> kdfSalt;
  std::int64_t kdfOps = 0;
  std::int64_t kdfMem = 0;
};

/// A secret row: metadata in the clear, the value only sealed.
struct SecretRecord {
  std::int64_t id = 0;
  std::string name;
  std::string kind;
  std::uint32_t version = 1;
  std::int64_t masterKeyId = 0;
  std::vector<unsigned char> wrappedKey;
  std::vector<unsigned char> ciphertext;
  bool exclusive = false;
  std::string description;
  core::TimePoint createdAt{};
  core::TimePoint updatedAt{};
};

/// Rows of the vault. Transactions are the caller's.
class VaultRepository {
 public:
  explicit VaultRepository(Database& db) : db_(db) {}

  /// The master key in use (the newest not retired); not_found if the vault was never set up.
  core::Result<MasterKeyRecord> currentMasterKey();
  core::Result<std::int64_t> insertMasterKey(const MasterKeyRecord& k, core::TimePoint now);
  core::Status retireMasterKey(std::int64_t id, core::TimePoint now);

  core::Result<SecretRecord> secret(const std::string& name);
  /// Metadata of every secret (the sealed bytes are left empty).
  core::Result<std::vector<SecretRecord>> list();
  /// Inserts version 1, or replaces the value with version+1 if the name exists.
  core::Result<SecretRecord> put(SecretRecord r, core::TimePoint now);
  /// Rewrites the sealed bytes of one version in place (master key rotation).
  core::Status rewrap(const SecretRecord& r);
  core::Status remove(const std::string& name);

  /// Names an endpoint's stored credential (empty: none, use the SSH CA).
  core::Status setEndpointCredential(std::int64_t endpointId, const std::string& secretName,
                                     const std::string& rotationCommand = "");
  /// The command that rotates the endpoint's stored password (empty: none).
  core::Result<std::string> endpointRotationCommand(std::int64_t endpointId);

 private:
  Database& db_;
};

}  // namespace conduit::store
