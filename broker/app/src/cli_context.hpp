#pragma once

// Shared state of the administrative subcommands: where the data is, opened on first use.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conduit/access/actor.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/app/config.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/core/result.hpp"
#include "conduit/policies/policy_set.hpp"
#include "conduit/store/database.hpp"

namespace conduit::app {

class CliContext {
 public:
  std::string dataDir = "/var/lib/conduit";
  std::string configFile;
  std::string as;  // --as USER: act as this Conduit user
  std::string vaultPassphraseFile;

  /// Adds --data-dir and --config to a subcommand.
  void addLocationOptions(CLI::App& cmd);

  /// The configuration: from --config if given, else defaults with --data-dir.
  core::Result<Config> config();
  /// The database, migrated; opened once.
  core::Result<store::Database*> database();
  /// The vault, unsealed with --vault-passphrase-file or the configured key file.
  core::Result<access::VaultService*> vault();
  /// The policy set from the configured files (empty set = deny all, with a warning).
  core::Result<const policies::PolicySet*> policySet();

  access::Actor actor() const {
    return access::Actor{as.empty() ? std::string("admin-cli") : as, "cli"};
  }
  const core::Clock& clock() const { return clock_; }

  /// Keeps option storage alive as long as the command line (CLI11 binds to references).
  void keepAlive(std::shared_ptr<void> p) { holders_.push_back(std::move(p)); }

 private:
  std::optional<Config> config_;
  std::optional<store::Database> db_;
  std::optional<policies::PolicySet> policies_;
  std::unique_ptr<access::VaultService> vault_;
  core::SystemClock clock_;
  std::vector<std::shared_ptr<void>> holders_;
};

/// Prints "conduit: <message>" to stderr and returns exit code 1.
int fail(const core::Error& e);

/// The CLI's command handlers; each returns the process exit code.
void addAdminCommands(CLI::App& app, CliContext& ctx, int& exitCode);
void addAuditCommands(CLI::App& app, CliContext& ctx, int& exitCode);
void addPolicyCommands(CLI::App& app, CliContext& ctx, int& exitCode);
void addVaultCommands(CLI::App& app, CliContext& ctx, int& exitCode);
void addRecordingCommands(CLI::App& app, CliContext& ctx, int& exitCode);

}  // namespace conduit::app
