// Certificates minted by the vault's SSH CA against a REAL OpenSSH server and client: sshd trusts
// the CA (TrustedUserCAKeys) and nothing else (AuthorizedKeysFile none). Needs root: it creates a
// throwaway account and runs sshd on 127.0.0.1.
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "conduit/core/clock.hpp"
#include "conduit/vault/ssh_ca.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using conduit::core::SystemClock;
using conduit::test::Process;
using conduit::test::runCommand;
using conduit::test::TempDir;
using namespace conduit::vault;
using namespace std::chrono_literals;

namespace {

// The account the certificates log in to; created if missing, never given a password.
constexpr const char* kUser = "conduit-certuser";

void ensureUser() {
  if (::getpwnam(kUser) == nullptr) {
    const auto [rc, out] = runCommand({"useradd", "-m", "-s", "/bin/sh", kUser});
    INFO(out);
    // Another test process (ctest -j) may have created it in the meantime.
    REQUIRE((rc == 0 || ::getpwnam(kUser) != nullptr));
  }
  // useradd leaves the account locked ("!"); with UsePAM no, sshd refuses locked accounts even
  // for certificates. "*" unlocks it without allowing any password.
  const auto [rc, out] = runCommand({"usermod", "-p", "*", kUser});
  INFO(out);
  REQUIRE(rc == 0);
}

Ed25519KeyPair newKey() {
  auto key = generateEd25519();
  REQUIRE(key.ok());
  return std::move(key).value();
}

void writePrivateFile(const std::filesystem::path& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
}

// Trusts certificates from the CA in `caFile` and nothing else; only kUser may log in.
std::string configText(const TempDir& dir, int port, const std::filesystem::path& hostKey,
                       const std::filesystem::path& caFile) {
  std::string text;
  text += "Port " + std::to_string(port) + "\n";
  text += "ListenAddress 127.0.0.1\n";
  text += "HostKey " + hostKey.string() + "\n";
  text += "PidFile " + (dir / "sshd.pid").string() + "\n";
  text += "TrustedUserCAKeys " + caFile.string() + "\n";
  text += "AuthorizedKeysFile none\n";
  text += "PasswordAuthentication no\n";
  text += "KbdInteractiveAuthentication no\n";
  text += "UsePAM no\n";
  text += "StrictModes no\n";
  text += "PermitRootLogin no\n";
  text += "AllowUsers " + std::string(kUser) + "\n";
  text += "LogLevel VERBOSE\n";  // logs "Accepted certificate ID" and the refusal reasons
  return text;
}

// A throwaway sshd that trusts one CA. Stopped (SIGTERM, then SIGKILL by Process) on scope exit.
class Sshd {
 public:
  Sshd(const TempDir& dir, const Ed25519KeyPair& ca) {
    std::filesystem::create_directories("/run/sshd");  // sshd's privilege-separation directory
    const auto caFile = dir / "ca.pub";
    conduit::test::writeText(caFile, ed25519PublicKeyLine(ca.publicKey, "conduit-ca") + "\n");
    const auto hostKey = dir / "host_ed25519";
    const auto [rc, out] =
        runCommand({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey.string()});
    INFO(out);
    REQUIRE(rc == 0);

    // sshd cannot bind port 0 and report it: try random high ports until one binds.
    std::mt19937 random{std::random_device{}()};
    std::uniform_int_distribution<int> ports(20000, 60000);
    for (int attempt = 0; attempt < 20; ++attempt) {
      port_ = ports(random);
      const auto config = dir / "sshd_config";
      conduit::test::writeText(config, configText(dir, port_, hostKey, caFile));
      if (attempt == 0) {
        const auto [testRc, testOut] = runCommand({"/usr/sbin/sshd", "-t", "-f", config.string()});
        INFO(testOut);
        REQUIRE(testRc == 0);
      }
      process_ = std::make_unique<Process>(
          std::vector<std::string>{"/usr/sbin/sshd", "-D", "-e", "-f", config.string()});
      if (process_->waitForLine("Server listening on 127.0.0.1 port", 10s)) return;
      const auto exited = process_->wait(5s);
      INFO(process_->errors());
      REQUIRE(exited.has_value());
      REQUIRE(process_->errors().find("Address already in use") != std::string::npos);
    }
    FAIL("no free port for sshd");
  }
  ~Sshd() {
    if (process_) {
      process_->signal(SIGTERM);
      (void)process_->wait(5s);
    }
  }
  Sshd(const Sshd&) = delete;
  Sshd& operator=(const Sshd&) = delete;

  int port() const { return port_; }
  /// Waits for an sshd log line containing `needle`.
  std::optional<std::string> logLine(const std::string& needle) {
    return process_->waitForLine(needle, 5s);
  }
  /// Everything sshd logged so far.
  const std::string& log() const { return process_->errors(); }

 private:
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

// The files an OpenSSH client needs to log in with a session key and its certificate.
struct Client {
  std::filesystem::path key;
  std::filesystem::path cert;
};

Client writeClient(const TempDir& dir, const std::string& name, const Ed25519KeyPair& session,
                   const Certificate& cert) {
  Client c{dir / name, dir / (name + "-cert.pub")};
  const auto text = openSshPrivateKeyText(session, name);
  REQUIRE(text.ok());
  writePrivateFile(c.key, text->revealText());
  conduit::test::writeText(c.cert, cert.line + "\n");
  return c;
}

// Runs `ssh ... echo ok` with only the given key and certificate; returns {exit code, output}.
std::pair<int, std::string> sshEcho(const Sshd& sshd, const Client& client) {
  return runCommand({"ssh",
                     "-F",
                     "/dev/null",
                     "-n",
                     "-i",
                     client.key.string(),
                     "-o",
                     "CertificateFile=" + client.cert.string(),
                     "-o",
                     "IdentitiesOnly=yes",
                     "-o",
                     "IdentityAgent=none",
                     "-o",
                     "PreferredAuthentications=publickey",
                     "-o",
                     "StrictHostKeyChecking=no",
                     "-o",
                     "UserKnownHostsFile=/dev/null",
                     "-o",
                     "BatchMode=yes",
                     "-o",
                     "ConnectTimeout=10",
                     "-o",
                     "LogLevel=ERROR",
                     "-p",
                     std::to_string(sshd.port()),
                     std::string(kUser) + "@127.0.0.1",
                     "echo",
                     "ok"});
}

CertificateRequest requestFor(const Ed25519KeyPair& session, const std::string& keyId) {
  const auto now = SystemClock().now();
  CertificateRequest request;
  request.subjectPublicKey = session.publicKey;
  request.keyId = keyId;
  request.serial = 1;
  request.principals = {kUser};
  // One minute back for clock skew between broker and target; five minutes forward.
  request.validAfter = now - 60s;
  request.validBefore = now + 5min;
  request.sourceAddress = "127.0.0.1/32";
  return request;
}

// "SHA256:..." of a public key, as sshd and ssh-keygen print it.
std::string fingerprint(const TempDir& dir, const Ed25519KeyPair& key) {
  const auto file = dir / "fingerprint.pub";
  conduit::test::writeText(file, ed25519PublicKeyLine(key.publicKey, "") + "\n");
  const auto [rc, out] = runCommand({"ssh-keygen", "-l", "-f", file.string()});
  INFO(out);
  REQUIRE(rc == 0);
  const auto start = out.find("SHA256:");
  REQUIRE(start != std::string::npos);
  return out.substr(start, out.find(' ', start) - start);
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// Asserts that sshd refused the login and that its log says why.
void checkRefused(Sshd& sshd, const std::pair<int, std::string>& result,
                  const std::string& reason) {
  INFO(result.second);
  CHECK(result.first == 255);
  CHECK(result.second.find("Permission denied") != std::string::npos);
  CHECK(trimmed(result.second) != "ok");
  const auto line = sshd.logLine(reason);
  INFO("sshd log:\n" << sshd.log());
  CHECK(line.has_value());
  CHECK(sshd.log().find("Accepted") == std::string::npos);
}

}  // namespace

TEST_CASE("sshd accepts a certificate for the right principal from the right address") {
  ensureUser();
  TempDir dir;
  const auto ca = newKey();
  Sshd sshd(dir, ca);
  const auto session = newKey();
  const auto cert = signUserCertificate(requestFor(session, "session-ok"), ca);
  REQUIRE(cert.ok());
  const auto client = writeClient(dir, "id", session, *cert);

  const auto [rc, out] = sshEcho(sshd, client);
  INFO(out);
  CHECK(rc == 0);
  CHECK(trimmed(out) == "ok");
  const auto accepted = sshd.logLine("Accepted certificate ID \"session-ok\"");
  CHECK(accepted.has_value());
}

TEST_CASE("sshd refuses an expired certificate") {
  ensureUser();
  TempDir dir;
  const auto ca = newKey();
  Sshd sshd(dir, ca);
  const auto session = newKey();
  auto request = requestFor(session, "session-late");
  const auto now = SystemClock().now();
  request.validAfter = now - 10min;
  request.validBefore = now - 1min;
  const auto cert = signUserCertificate(request, ca);
  REQUIRE(cert.ok());
  checkRefused(sshd, sshEcho(sshd, writeClient(dir, "id", session, *cert)),
               "Certificate invalid: expired");
}

TEST_CASE("sshd refuses a certificate for another principal") {
  ensureUser();
  TempDir dir;
  const auto ca = newKey();
  Sshd sshd(dir, ca);
  const auto session = newKey();
  auto request = requestFor(session, "session-wrong-user");
  request.principals = {"someone-else"};
  const auto cert = signUserCertificate(request, ca);
  REQUIRE(cert.ok());
  checkRefused(sshd, sshEcho(sshd, writeClient(dir, "id", session, *cert)),
               "Certificate invalid: name is not a listed principal");
}

TEST_CASE("sshd refuses a certificate bound to another source address") {
  ensureUser();
  TempDir dir;
  const auto ca = newKey();
  Sshd sshd(dir, ca);
  const auto session = newKey();
  auto request = requestFor(session, "session-wrong-net");
  request.sourceAddress = "10.9.9.9/32";
  const auto cert = signUserCertificate(request, ca);
  REQUIRE(cert.ok());
  checkRefused(sshd, sshEcho(sshd, writeClient(dir, "id", session, *cert)),
               "not from a permitted source address");
}

TEST_CASE("sshd refuses a certificate signed by another CA") {
  ensureUser();
  TempDir dir;
  const auto ca = newKey();
  const auto rogue = newKey();
  Sshd sshd(dir, ca);
  const auto session = newKey();
  const auto cert = signUserCertificate(requestFor(session, "session-rogue"), rogue);
  REQUIRE(cert.ok());
  // At LogLevel VERBOSE sshd names no reason here; its refusal line shows that it parsed the
  // certificate and which CA signed it.
  checkRefused(sshd, sshEcho(sshd, writeClient(dir, "id", session, *cert)),
               "ID session-rogue (serial 1) CA ED25519 " + fingerprint(dir, rogue));
}
