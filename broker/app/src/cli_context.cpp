#include "cli_context.hpp"

#include <openssl/crypto.h>

#include <fstream>

#include "conduit/app/data_dir.hpp"
#include "conduit/store/migrations.hpp"

namespace conduit::app {

int fail(const core::Error& e) {
  std::fprintf(stderr, "conduit: %s\n", e.message.c_str());
  return 1;
}

void CliContext::addLocationOptions(CLI::App& cmd) {
  cmd.add_option("--data-dir", dataDir, "Data directory")->capture_default_str();
  cmd.add_option("--config", configFile, "Configuration file (overrides --data-dir)");
}

core::Result<Config> CliContext::config() {
  if (!config_) {
    if (configFile.empty()) {
      Config c;
      c.dataDir = dataDir;
      config_ = withDerivedPaths(c);
    } else {
      auto c = loadConfig(configFile);
      if (!c) return c.error();
      config_ = withDerivedPaths(*c);
    }
  }
  return *config_;
}

core::Result<store::Database*> CliContext::database() {
  if (!db_) {
    auto c = config();
    if (!c) return c.error();
    if (auto st = checkDataDir(c->dataDir); !st) return st.error();
    store::DatabaseOptions options;
    options.create = false;
    options.busyTimeout = std::chrono::milliseconds(c->database.busyTimeoutMs);
    auto db = store::Database::open(DataDirLayout{c->dataDir}.database(), options);
    if (!db) return db.error();
    db_ = std::move(*db);
  }
  return &*db_;
}

core::Result<access::VaultService*> CliContext::vault() {
  if (!vault_) {
    auto c = config();
    if (!c) return c.error();
    auto db = database();
    if (!db) return db.error();
    auto v = std::make_unique<access::VaultService>(**db, clock_);
    core::Status st = core::Done{};
    if (!vaultPassphraseFile.empty()) {
      std::ifstream in(vaultPassphraseFile);
      std::string passphrase;
      std::getline(in, passphrase);
      st = v->unsealWithPassphrase(passphrase);
      OPENSSL_cleanse(passphrase.data(), passphrase.size());
    } else {
      st = v->unsealWithKeyFile(c->vault.masterKeyFile);
    }
    if (!st) return st.error();
    vault_ = std::move(v);
  }
  return vault_.get();
}

core::Result<const policies::PolicySet*> CliContext::policySet() {
  if (!policies_) {
    auto c = config();
    if (!c) return c.error();
    const auto files = policyFiles(*c);
    if (files.empty()) {
      std::fprintf(stderr,
                   "conduit: warning: no policy files (set policy.files or add "
                   "%s/policies/*.toml); every request is denied\n",
                   c->dataDir.c_str());
    }
    auto set = policies::PolicySet::load(files);
    if (!set) return set.error();
    policies_ = std::move(*set);
  }
  return &*policies_;
}

}  // namespace conduit::app
