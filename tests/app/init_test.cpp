#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "conduit/app/data_dir.hpp"
#include "conduit/store/database.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using conduit::app::DataDirLayout;
using conduit::app::initDataDir;
using conduit::core::ErrorCode;
using conduit::test::TempDir;
namespace fs = std::filesystem;

namespace {
unsigned modeOf(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}
}  // namespace

TEST_CASE("init creates the data directory, database and keys with private modes") {
  TempDir tmp;
  const DataDirLayout layout{tmp / "data"};
  auto report = initDataDir(layout.root);
  REQUIRE(report.ok());
  CHECK(modeOf(layout.root) == 0700);
  CHECK(modeOf(layout.tlsPrivateKey()) == 0600);
  CHECK(modeOf(layout.sshHostKey()) == 0600);
  CHECK(modeOf(layout.tlsDir()) == 0700);
  // db, tls key+cert, ssh key+pub, 3 policy presets, vault master key
  CHECK(report->created.size() == 9);
  CHECK(modeOf(layout.masterKeyFile()) == 0600);
  auto [rcCa, caLine] = conduit::test::runCommand(
      {CONDUIT_BINARY, "vault", "--data-dir", layout.root.string(), "ssh-ca", "public-key"});
  REQUIRE(rcCa == 0);
  CHECK_THAT(caLine, Catch::StartsWith("ssh-ed25519 AAAA") && Catch::Contains("conduit-user-ca"));
  conduit::test::writeText(tmp / "ca.pub", caLine);
  auto [rcKg, kg] = conduit::test::runCommand({"ssh-keygen", "-lf", (tmp / "ca.pub").string()});
  CHECK(rcKg == 0);
  CHECK(fs::exists(layout.policyDir() / "10-strict-critical.toml"));
  CHECK(fs::exists(layout.policyDir() / "90-default.toml"));
  CHECK(report->schemaVersion >= 1);
  CHECK_THAT(report->sshHostKeyFingerprint, Catch::StartsWith("SHA256:"));

  // Real tools accept what init made.
  auto [rc, out] = conduit::test::runCommand(
      {"openssl", "x509", "-in", layout.tlsCertificate().string(), "-noout", "-text"});
  REQUIRE(rc == 0);
  CHECK_THAT(out, Catch::Contains("prime256v1"));
  CHECK_THAT(out, Catch::Contains("DNS:localhost") && Catch::Contains("IP Address:127.0.0.1"));
  auto [rc2, fp] = conduit::test::runCommand({"ssh-keygen", "-lf", layout.sshHostKey().string()});
  REQUIRE(rc2 == 0);
  CHECK_THAT(fp, Catch::Contains(report->sshHostKeyFingerprint) && Catch::Contains("ED25519"));
}

TEST_CASE("init is idempotent and never replaces keys") {
  TempDir tmp;
  const DataDirLayout layout{tmp / "data"};
  REQUIRE(initDataDir(layout.root).ok());
  const std::string tlsKey = conduit::test::readText(layout.tlsPrivateKey());
  const std::string sshKey = conduit::test::readText(layout.sshHostKey());
  auto again = initDataDir(layout.root);
  REQUIRE(again.ok());
  CHECK(again->created.empty());
  CHECK(again->kept.size() == 6);
  CHECK(conduit::test::readText(layout.tlsPrivateKey()) == tlsKey);
  CHECK(conduit::test::readText(layout.sshHostKey()) == sshKey);
}

TEST_CASE("init refuses a data directory open to others, and creates nothing in it") {
  TempDir tmp;
  const fs::path dir = tmp / "open";
  fs::create_directory(dir);
  ::chmod(dir.c_str(), 0755);
  auto report = initDataDir(dir);
  REQUIRE_FALSE(report.ok());
  CHECK(report.error().code == ErrorCode::permission_denied);
  CHECK_THAT(report.error().message, Catch::Contains("0755") && Catch::Contains("chmod 700"));
  CHECK(fs::is_empty(dir));
}

TEST_CASE("init on a corrupt database fails clearly and adds no keys") {
  TempDir tmp;
  const DataDirLayout layout{tmp / "data"};
  fs::create_directory(layout.root);
  ::chmod(layout.root.c_str(), 0700);
  conduit::test::writeText(layout.database(), std::string(4096, 'z'));
  auto report = initDataDir(layout.root);
  REQUIRE_FALSE(report.ok());
  CHECK(report.error().code == ErrorCode::corrupt);
  CHECK_FALSE(fs::exists(layout.tlsDir()));
  CHECK_FALSE(fs::exists(layout.sshDir()));
  CHECK(conduit::test::readText(layout.database()) == std::string(4096, 'z'));
}

TEST_CASE("a fresh init that fails removes the directory it made") {
  TempDir tmp;
  // The parent is a file, so the data directory cannot be made at all.
  conduit::test::writeText(tmp / "file", "x");
  auto report = initDataDir(tmp / "file" / "data");
  REQUIRE_FALSE(report.ok());
  CHECK(fs::exists(tmp / "file"));
}

TEST_CASE("init refuses half a key pair rather than replacing it") {
  TempDir tmp;
  const DataDirLayout layout{tmp / "data"};
  REQUIRE(initDataDir(layout.root).ok());
  fs::remove(layout.sshHostPublicKey());
  auto report = initDataDir(layout.root);
  REQUIRE_FALSE(report.ok());
  CHECK(report.error().code == ErrorCode::conflict);
  CHECK_THAT(report.error().message, Catch::Contains("host_ed25519_key.pub"));
}

TEST_CASE("checkDataDir explains what is missing") {
  TempDir tmp;
  auto missing = conduit::app::checkDataDir(tmp / "none");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("conduit init"));
  REQUIRE(initDataDir(tmp / "d").ok());
  CHECK(conduit::app::checkDataDir(tmp / "d").ok());
  ::chmod((tmp / "d" / "ssh" / "host_ed25519_key").c_str(), 0644);
  auto open = conduit::app::checkDataDir(tmp / "d");
  REQUIRE_FALSE(open.ok());
  CHECK_THAT(open.error().message, Catch::Contains("0644"));
}

TEST_CASE("init never replaces a lost vault master key file") {
  TempDir tmp;
  const DataDirLayout layout{tmp / "data"};
  REQUIRE(initDataDir(layout.root).ok());
  fs::remove(layout.masterKeyFile());
  auto again = initDataDir(layout.root);
  REQUIRE_FALSE(again.ok());
  CHECK_THAT(again.error().message, Catch::Contains("restore the vault master key file"));
  CHECK_FALSE(fs::exists(layout.masterKeyFile()));
}

TEST_CASE("init with a vault passphrase writes no key file") {
  TempDir tmp;
  const DataDirLayout layout{tmp / "data"};
  conduit::app::InitOptions options;
  options.vaultPassphrase = "a long operator passphrase";
  REQUIRE(initDataDir(layout.root, options).ok());
  CHECK_FALSE(fs::exists(layout.masterKeyFile()));
  CHECK(initDataDir(layout.root).ok());  // idempotent without the passphrase
}
