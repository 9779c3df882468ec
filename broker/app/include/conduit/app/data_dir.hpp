#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "conduit/core/result.hpp"

namespace conduit::app {

/// Where things live inside the data directory (docs/operator.md lists them).
struct DataDirLayout {
  std::filesystem::path root;
  std::filesystem::path database() const { return root / "conduit.db"; }
  std::filesystem::path tlsDir() const { return root / "tls"; }
  std::filesystem::path tlsCertificate() const { return tlsDir() / "portal.crt"; }
  std::filesystem::path tlsPrivateKey() const { return tlsDir() / "portal.key"; }
  std::filesystem::path sshDir() const { return root / "ssh"; }
  std::filesystem::path sshHostKey() const { return sshDir() / "host_ed25519_key"; }
  std::filesystem::path sshHostPublicKey() const { return sshDir() / "host_ed25519_key.pub"; }
  std::filesystem::path policyDir() const { return root / "policies"; }
  std::filesystem::path vaultDir() const { return root / "vault"; }
  std::filesystem::path recordingsDir() const { return root / "recordings"; }
  std::filesystem::path masterKeyFile() const { return vaultDir() / "master.key"; }
};

/// Choices for a first init.
struct InitOptions {
  // Set: the vault master key is derived from this passphrase (argon2id) and no key file is
  // written; the operator must give it at every start. Unset: a random key file (0600).
  std::optional<std::string> vaultPassphrase;
};

/// The vault secret holding the SSH user CA's Ed25519 key.
inline constexpr const char* kSshCaSecret = "ssh-ca/user";

/// The policy presets compiled into the binary: {file name, TOML text}.
const std::vector<std::pair<std::string, std::string>>& builtinPolicyPresets();

/// What `conduit init` did: the files it created and the ones it found and kept.
struct InitReport {
  std::vector<std::filesystem::path> created;
  std::vector<std::filesystem::path> kept;
  int schemaVersion = 0;
  std::string sshHostKeyFingerprint;
};

/// Creates or completes a data directory: the directory (0700), the database with every
/// migration applied, a self-signed portal TLS certificate and key (0600), and the SSH host
/// key (0600), the vault master key (a 0600 key file, or passphrase-derived), and the shipped
/// policy presets in <data_dir>/policies if that directory does not
/// exist yet (strict-critical first, default last: the first matching rule decides). Idempotent;
/// never overwrites a key. On failure, removes what this call created.
core::Result<InitReport> initDataDir(const std::filesystem::path& root,
                                     const InitOptions& options = {});

/// Checks an existing data directory before serving: permissions, database opens and is
/// migrated (pending migrations are applied), keys present and private.
/// Fails with a message that says how to fix it (usually: run `conduit init`).
core::Status checkDataDir(const std::filesystem::path& root);

}  // namespace conduit::app
