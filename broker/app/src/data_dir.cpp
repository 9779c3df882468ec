#include "conduit/app/data_dir.hpp"

#include <openssl/crypto.h>
#include <sys/stat.h>
#include <fstream>

#include "conduit/access/recording_keys.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/app/secure_files.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/portal/tls_certificate.hpp"
#include "conduit/ssh/host_key.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/migrations.hpp"
#include "conduit/store/vault_repository.hpp"
#include "conduit/vault/master_key.hpp"
#include "conduit/vault/ssh_ca.hpp"

namespace conduit::app {

using core::ErrorCode;
using core::fail;
namespace fs = std::filesystem;

namespace {

/// Undoes what a failed init created, newest first.
class CreatedFiles {
 public:
  void add(const fs::path& p) { paths_.push_back(p); }
  void commit() { paths_.clear(); }
  ~CreatedFiles() {
    std::error_code ec;
    for (auto it = paths_.rbegin(); it != paths_.rend(); ++it) {
      fs::remove(*it, ec);
      // A fresh database may have left its WAL and shared-memory files beside it.
      fs::remove(it->string() + "-wal", ec);
      fs::remove(it->string() + "-shm", ec);
    }
  }
  const std::vector<fs::path>& paths() const { return paths_; }

 private:
  std::vector<fs::path> paths_;
};

void wipe(std::string& s) {
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

core::Status ensureSubdir(const fs::path& dir, CreatedFiles& created) {
  bool made = false;
  if (auto st = ensurePrivateDirectory(dir, made); !st) return st;
  if (made) created.add(dir);
  return core::Done{};
}

/// Both files of a key pair exist, neither does, or it is an error (never half-replace a pair).
core::Result<bool> pairPresent(const fs::path& a, const fs::path& b) {
  const bool hasA = fs::exists(a);
  const bool hasB = fs::exists(b);
  if (hasA != hasB) {
    const fs::path& have = hasA ? a : b;
    const fs::path& missing = hasA ? b : a;
    return fail(ErrorCode::conflict, "found " + have.string() + " but not " + missing.string() +
                                         "; restore it, or remove both to make a new pair");
  }
  return hasA;
}

core::Status initTls(const DataDirLayout& layout, CreatedFiles& created, InitReport& report) {
  if (auto st = ensureSubdir(layout.tlsDir(), created); !st) return st;
  auto present = pairPresent(layout.tlsCertificate(), layout.tlsPrivateKey());
  if (!present) return present.error();
  if (*present) {
    if (auto st = checkPrivateFile(layout.tlsPrivateKey()); !st) return st;
    report.kept.push_back(layout.tlsCertificate());
    report.kept.push_back(layout.tlsPrivateKey());
    return core::Done{};
  }
  // 397 days: the longest validity browsers accept for a server certificate.
  auto pem =
      portal::makeSelfSignedCertificate("localhost", {"localhost"}, {"127.0.0.1", "::1"}, 397);
  if (!pem) return pem.error();
  auto st = writeNewFile(layout.tlsPrivateKey(), pem->privateKey, 0600);
  wipe(pem->privateKey);
  if (!st) return st;
  created.add(layout.tlsPrivateKey());
  if (auto st2 = writeNewFile(layout.tlsCertificate(), pem->certificate, 0644); !st2) return st2;
  created.add(layout.tlsCertificate());
  return core::Done{};
}

core::Status initSsh(const DataDirLayout& layout, CreatedFiles& created, InitReport& report) {
  if (auto st = ensureSubdir(layout.sshDir(), created); !st) return st;
  auto present = pairPresent(layout.sshHostKey(), layout.sshHostPublicKey());
  if (!present) return present.error();
  if (*present) {
    if (auto st = checkPrivateFile(layout.sshHostKey()); !st) return st;
    report.kept.push_back(layout.sshHostKey());
    report.kept.push_back(layout.sshHostPublicKey());
    return core::Done{};
  }
  auto key = ssh::generateHostKey("conduit-host-key");
  if (!key) return key.error();
  auto st = writeNewFile(layout.sshHostKey(), key->privateKey, 0600);
  wipe(key->privateKey);
  if (!st) return st;
  created.add(layout.sshHostKey());
  if (auto st2 = writeNewFile(layout.sshHostPublicKey(), key->publicKey, 0644); !st2) return st2;
  created.add(layout.sshHostPublicKey());
  return core::Done{};
}

// Install names order the presets: the first matching rule decides, so the strict rules for
// critical assets must come before the general default.
constexpr std::pair<const char*, const char*> kPresetOrder[] = {
    {"strict-critical.toml", "10-strict-critical.toml"},
    {"read-only-modbus.toml", "20-read-only-modbus.toml"},
    {"default.toml", "90-default.toml"},
};

core::Status initPolicies(const DataDirLayout& layout, CreatedFiles& created) {
  if (fs::exists(layout.policyDir())) return core::Done{};  // the operator's own set: keep it
  if (auto st = ensureSubdir(layout.policyDir(), created); !st) return st;
  for (const auto& [preset, installName] : kPresetOrder) {
    for (const auto& [name, text] : builtinPolicyPresets()) {
      if (name != preset) continue;
      const auto path = layout.policyDir() / installName;
      if (auto st = writeNewFile(path, text, 0640); !st) return st;
      created.add(path);
    }
  }
  return core::Done{};
}

/// Creates the SSH user CA once: its key sealed in the vault, its public line in the
/// installation table (public, so `conduit vault ssh-ca public-key` needs no unseal).
core::Status ensureSshCa(store::Database& db, access::VaultService& vault) {
  auto existing = db.prepare("SELECT value FROM installation WHERE key = 'ssh_user_ca_public_key'");
  if (!existing) return existing.error();
  auto row = existing->step();
  if (!row) return row.error();
  if (*row) return core::Done{};
  auto ca = vault::generateEd25519();
  if (!ca) return ca.error();
  auto stored = vault.put({"system", "cli"}, kSshCaSecret, "signing_key", ca->secretKey.reveal(),
                          false, "SSH user certificate authority (Ed25519)");
  if (!stored) return stored.error();
  auto insert =
      db.prepare("INSERT INTO installation(key, value) VALUES('ssh_user_ca_public_key', ?1)");
  if (!insert) return insert.error();
  return insert->bind(1, vault::ed25519PublicKeyLine(ca->publicKey, "conduit-user-ca")).run();
}

core::Status ensureBrokerKeys(store::Database& db, access::VaultService& vault) {
  if (auto st = ensureSshCa(db, vault); !st) return st;
  return access::ensureRecordingKeys(db, vault);
}

core::Status initVault(const DataDirLayout& layout, const InitOptions& options,
                       CreatedFiles& created, InitReport& report) {
  store::DatabaseOptions dbOptions;
  dbOptions.create = false;
  auto db = store::Database::open(layout.database(), dbOptions);
  if (!db) return db.error();
  const core::SystemClock clock;
  auto existing = store::VaultRepository(*db).currentMasterKey();
  access::VaultService service(*db, clock);
  if (existing) {
    if (existing->kdf != "key-file") return core::Done{};  // passphrase: nothing on disk
    if (auto st = service.unsealWithKeyFile(layout.masterKeyFile()); !st) {
      // Never make a new key here: the secrets sealed under the old one would be lost.
      return fail(st.error().code,
                  st.error().message + "; restore the vault master key file from your backup");
    }
    report.kept.push_back(layout.masterKeyFile());
    return ensureBrokerKeys(*db, service);
  }
  if (options.vaultPassphrase) {
    const auto kdf = vault::newPassphraseKdf();
    auto key = vault::deriveMasterKey(*options.vaultPassphrase, kdf);
    if (!key) return key.error();
    if (auto st = access::VaultService::initialise(*db, clock, *key, kdf); !st) return st;
    if (auto st = service.unsealWithKey(std::move(*key)); !st) return st;
    return ensureBrokerKeys(*db, service);
  }
  if (auto st = ensureSubdir(layout.vaultDir(), created); !st) return st;
  const vault::MasterKey key = vault::generateMasterKey();
  const std::string_view keyBytes(reinterpret_cast<const char*>(key.reveal().data()), key.size());
  if (auto st = writeNewFile(layout.masterKeyFile(), keyBytes, 0600); !st) return st;
  created.add(layout.masterKeyFile());
  if (auto st = access::VaultService::initialise(*db, clock, key, std::nullopt); !st) return st;
  if (auto st = service.unsealWithKey(vault::MasterKey::fromBytes(key.reveal())); !st) return st;
  return ensureBrokerKeys(*db, service);
}

core::Result<int> openAndMigrate(const fs::path& dbPath, bool create) {
  store::DatabaseOptions options;
  options.create = create;
  auto db = store::Database::open(dbPath, options);
  if (!db) return db.error();
  return store::migrate(*db);
}

}  // namespace

core::Result<InitReport> initDataDir(const fs::path& root, const InitOptions& options) {
  const DataDirLayout layout{root};
  InitReport report;
  CreatedFiles created;

  bool rootMade = false;
  if (auto st = ensurePrivateDirectory(root, rootMade); !st) return st.error();
  if (rootMade) created.add(root);

  const bool dbExisted = fs::exists(layout.database());
  if (!dbExisted) created.add(layout.database());
  auto version = openAndMigrate(layout.database(), true);
  if (!version) return version.error();
  report.schemaVersion = *version;
  if (dbExisted) report.kept.push_back(layout.database());

  if (auto st = initTls(layout, created, report); !st) return st.error();
  if (auto st = initSsh(layout, created, report); !st) return st.error();
  if (auto st = initPolicies(layout, created); !st) return st.error();
  if (auto st = initVault(layout, options, created, report); !st) return st.error();

  std::string keyText;
  {
    std::ifstream in(layout.sshHostKey());
    keyText.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto fingerprint = ssh::hostKeyFingerprint(keyText);
  wipe(keyText);
  if (!fingerprint) {
    return fail(ErrorCode::corrupt,
                layout.sshHostKey().string() + " is not a valid OpenSSH private key");
  }
  report.sshHostKeyFingerprint = *fingerprint;

  for (const auto& p : created.paths()) {
    if (!fs::is_directory(p)) report.created.push_back(p);
  }
  created.commit();
  return report;
}

core::Status checkDataDir(const fs::path& root) {
  const DataDirLayout layout{root};
  std::error_code ec;
  if (!fs::exists(root, ec)) {
    return fail(ErrorCode::not_found, "data directory " + root.string() +
                                          " does not exist; run `conduit init --data-dir " +
                                          root.string() + "` first");
  }
  bool made = false;
  if (auto st = ensurePrivateDirectory(root, made); !st) return st;
  if (!fs::exists(layout.database())) {
    return fail(ErrorCode::not_found, "no database in " + root.string() +
                                          "; run `conduit init --data-dir " + root.string() + "`");
  }
  if (auto v = openAndMigrate(layout.database(), false); !v) return v.error();
  if (!fs::exists(layout.sshHostKey())) {
    return fail(ErrorCode::not_found, "no SSH host key in " + root.string() +
                                          "; run `conduit init --data-dir " + root.string() + "`");
  }
  return checkPrivateFile(layout.sshHostKey());
}

}  // namespace conduit::app
