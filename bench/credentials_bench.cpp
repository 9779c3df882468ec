// Cost of just-in-time credentials per connection (issue 4): minting a per-session SSH
// certificate, and an audited vault checkout (open + audit event in SQLite, WAL mode).
// Baseline in the same run: `ssh-keygen -s` signing one certificate (what a script-based CA
// would do per connection). Prints one line per figure.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "conduit/access/vault_service.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/migrations.hpp"
#include "conduit/vault/master_key.hpp"
#include "conduit/vault/ssh_ca.hpp"

using namespace conduit;
using Clock = std::chrono::steady_clock;

namespace {

double microsPer(Clock::duration d, int n) {
  return std::chrono::duration<double, std::micro>(d).count() / n;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  const auto dir =
      std::filesystem::temp_directory_path() / ("conduit-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);

  // 1. Minting: fresh session key pair + signed certificate + OpenSSH private key text.
  auto ca = vault::generateEd25519().value();
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    auto subject = vault::generateEd25519().value();
    vault::CertificateRequest req;
    req.subjectPublicKey = subject.publicKey;
    req.keyId = "ssh-bench-" + std::to_string(i);
    req.serial = static_cast<std::uint64_t>(i) + 1;
    req.principals = {"maint"};
    const auto now =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    req.validAfter = now - std::chrono::seconds(60);
    req.validBefore = now + std::chrono::seconds(300);
    auto cert = vault::signUserCertificate(req, ca);
    auto text = vault::openSshPrivateKeyText(subject, req.keyId);
    if (!cert || !text) return 1;
  }
  std::printf("mint_certificate_us %.1f (n=%d)\n", microsPer(Clock::now() - start, n), n);

  // 2. Audited checkout from a real database.
  auto db = store::Database::open(dir / "bench.db").value();
  if (!store::migrate(db)) return 1;
  core::SystemClock clock;
  const auto key = vault::generateMasterKey();
  if (!access::VaultService::initialise(db, clock, key, std::nullopt)) return 1;
  access::VaultService vaultService(db, clock);
  if (!vaultService.unsealWithKey(vault::MasterKey::fromBytes(key.reveal()))) return 1;
  const std::string pw = "plc-maintenance-password";
  if (!vaultService.put({"bench", "cli"}, "asset/plc/ssh", "password",
                        {reinterpret_cast<const unsigned char*>(pw.data()), pw.size()}, false,
                        "")) {
    return 1;
  }
  start = Clock::now();
  for (int i = 0; i < n; ++i) {
    auto lease = vaultService.checkout({"bench", "127.0.0.1"}, "asset/plc/ssh", "bench");
    if (!lease) return 1;
  }
  std::printf("audited_checkout_us %.1f (n=%d)\n", microsPer(Clock::now() - start, n), n);

  // 3. Baseline: ssh-keygen -s per certificate (process start + signing), fewer rounds.
  const int m = std::max(1, n / 20);
  auto caText = vault::openSshPrivateKeyText(ca, "bench-ca").value();
  {
    std::ofstream f(dir / "ca", std::ios::binary);
    f.write(caText.revealText().data(), static_cast<std::streamsize>(caText.size()));
  }
  std::filesystem::permissions(
      dir / "ca", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const std::string keygen = "ssh-keygen -q -t ed25519 -N '' -f " + (dir / "user").string();
  if (std::system(keygen.c_str()) != 0) return 1;
  const std::string sign = "ssh-keygen -q -s " + (dir / "ca").string() +
                           " -I bench -n maint -V -1m:+5m " + (dir / "user.pub").string() +
                           " 2>/dev/null";
  start = Clock::now();
  for (int i = 0; i < m; ++i) {
    if (std::system(sign.c_str()) != 0) return 1;
  }
  std::printf("baseline_ssh_keygen_sign_us %.1f (n=%d)\n", microsPer(Clock::now() - start, m), m);
  std::filesystem::remove_all(dir);
  return 0;
}
