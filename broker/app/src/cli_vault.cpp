// `conduit vault ...`: write-only secrets, metadata listing, master key rotation.
#include <openssl/crypto.h>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli_context.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/app/data_dir.hpp"
#include "conduit/app/secure_files.hpp"
#include "conduit/vault/master_key.hpp"

namespace conduit::app {

namespace {

using core::ErrorCode;

/// Reads a whole file (or standard input for "-") into guarded memory; strips one trailing
/// newline so `echo pw > file` works.
core::Result<vault::SecretBuffer> readSecretInput(const std::string& file) {
  std::string text;
  if (file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) return core::fail(ErrorCode::unavailable, "cannot read " + file);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  if (!text.empty() && text.back() == '\n') text.pop_back();
  vault::SecretBuffer out({reinterpret_cast<const unsigned char*>(text.data()), text.size()});
  OPENSSL_cleanse(text.data(), text.size());
  return out;
}

/// Unseals with --passphrase-file if given, else the configured key file.
core::Status unseal(access::VaultService& vault, const Config& config,
                    const std::string& passphraseFile) {
  if (!passphraseFile.empty()) {
    auto pw = readSecretInput(passphraseFile);
    if (!pw) return pw.error();
    return vault.unsealWithPassphrase({reinterpret_cast<const char*>(pw->data()), pw->size()});
  }
  return vault.unsealWithKeyFile(config.vault.masterKeyFile);
}

}  // namespace

void addVaultCommands(CLI::App& app, CliContext& ctx, int& exitCode) {
  auto* vaultCmd = app.add_subcommand("vault", "Secrets for target credentials (write-only)");
  vaultCmd->require_subcommand(1);
  ctx.addLocationOptions(*vaultCmd);
  struct Values {
    std::string name, kind = "password", valueFile, description, passphraseFile, newPassphraseFile;
    bool exclusive = false;
  };
  auto values = std::make_shared<Values>();
  ctx.keepAlive(values);
  vaultCmd->add_option("--passphrase-file", values->passphraseFile,
                       "Passphrase of a passphrase-protected vault");

  auto withVault = [&ctx, values](auto body) -> core::Status {
    auto config = ctx.config();
    if (!config) return config.error();
    auto db = ctx.database();
    if (!db) return db.error();
    access::VaultService vault(**db, ctx.clock());
    if (auto st = unseal(vault, *config, values->passphraseFile); !st) return st;
    return body(vault, *config);
  };

  auto* put =
      vaultCmd->add_subcommand("put", "Store or replace a secret (the value is never shown)");
  put->add_option("name", values->name, "e.g. asset/plc-17/ssh")->required();
  put->add_option("--kind", values->kind, "password, ssh_private_key, totp_seed, api_token")
      ->capture_default_str();
  put->add_option("--value-file", values->valueFile, "File with the value, - for stdin")
      ->required();
  put->add_flag("--exclusive", values->exclusive,
                "Only one live session may use it at a time (shared PLC accounts)");
  put->add_option("--description", values->description);
  put->callback([&ctx, &exitCode, values, withVault] {
    auto st = withVault([&](access::VaultService& vault, const Config&) -> core::Status {
      auto value = readSecretInput(values->valueFile);
      if (!value) return value.error();
      auto rec = vault.put(ctx.actor(), values->name, values->kind, {value->data(), value->size()},
                           values->exclusive, values->description);
      if (!rec) return rec.error();
      std::printf("secret %s stored (version %u)\n", rec->name.c_str(), rec->version);
      return core::Done{};
    });
    exitCode = st ? 0 : fail(st.error());
  });

  vaultCmd->add_subcommand("list", "List secrets (metadata only)")->callback([&ctx, &exitCode] {
    auto db = ctx.database();
    if (!db) {
      exitCode = fail(db.error());
      return;
    }
    auto list = store::VaultRepository(**db).list();
    if (!list) {
      exitCode = fail(list.error());
      return;
    }
    for (const auto& s : *list) {
      std::printf("%-32s %-16s v%-3u %-9s updated %s  %s\n", s.name.c_str(), s.kind.c_str(),
                  s.version, s.exclusive ? "exclusive" : "shared",
                  core::formatTime(s.updatedAt).c_str(), s.description.c_str());
    }
    exitCode = 0;
  });

  auto* ca = vaultCmd->add_subcommand("ssh-ca", "The SSH user certificate authority");
  ca->require_subcommand(1);
  ca->add_subcommand("public-key", "Print the line for a target sshd's TrustedUserCAKeys")
      ->callback([&ctx, &exitCode] {
        auto db = ctx.database();
        if (!db) {
          exitCode = fail(db.error());
          return;
        }
        auto s =
            (*db)->prepare("SELECT value FROM installation WHERE key = 'ssh_user_ca_public_key'");
        auto row = s ? s->step() : core::Result<bool>(s.error());
        if (!row || !*row) {
          exitCode =
              fail(row ? core::Error{ErrorCode::not_found, "no SSH user CA yet; run conduit init"}
                       : row.error());
          return;
        }
        std::printf("%s\n", s->columnText(0).c_str());
        exitCode = 0;
      });

  auto* rotate = vaultCmd->add_subcommand(
      "rotate-master-key", "Re-wrap every secret under a new master key, in one transaction");
  rotate->add_option("--new-passphrase-file", values->newPassphraseFile,
                     "Derive the new key from this passphrase (else a new key file is written)");
  rotate->callback([&ctx, &exitCode, values, withVault] {
    auto st = withVault([&](access::VaultService& vault, const Config& config) -> core::Status {
      if (!values->newPassphraseFile.empty()) {
        auto pw = readSecretInput(values->newPassphraseFile);
        if (!pw) return pw.error();
        if (pw->size() < 12) {
          return core::fail(ErrorCode::invalid_argument, "use a passphrase of 12+ characters");
        }
        const auto kdf = vault::newPassphraseKdf();
        auto key =
            vault::deriveMasterKey({reinterpret_cast<const char*>(pw->data()), pw->size()}, kdf);
        if (!key) return key.error();
        if (auto r = vault.rotateMasterKey(ctx.actor(), std::move(*key), kdf); !r) return r;
        std::printf("master key rotated; the vault now opens with the new passphrase\n");
        return core::Done{};
      }
      // New key file first, beside the old one, so a crash never leaves the vault without a
      // key that opens it; the old file is kept until the operator deletes it.
      const auto keyFile = config.vault.masterKeyFile;
      const auto next = keyFile.string() + ".new";
      vault::MasterKey key = vault::generateMasterKey();
      std::error_code ec;
      std::filesystem::remove(next, ec);
      if (auto w = writeNewFile(
              next, {reinterpret_cast<const char*>(key.reveal().data()), key.size()}, 0600);
          !w) {
        return w;
      }
      if (auto r = vault.rotateMasterKey(ctx.actor(), std::move(key), std::nullopt); !r) {
        std::filesystem::remove(next, ec);
        return r;
      }
      const auto retired = keyFile.string() + ".retired-" +
                           std::to_string(ctx.clock().now().time_since_epoch().count());
      std::filesystem::rename(keyFile, retired, ec);
      std::filesystem::rename(next, keyFile, ec);
      if (ec) {
        return core::fail(ErrorCode::io, "rotated, but could not move " + next + " to " +
                                             keyFile.string() + ": " + ec.message() +
                                             "; move it by hand");
      }
      std::printf(
          "master key rotated; new key in %s, old key kept as %s (delete it once "
          "backups no longer need it)\n",
          keyFile.c_str(), retired.c_str());
      return core::Done{};
    });
    exitCode = st ? 0 : fail(st.error());
  });
}

}  // namespace conduit::app
