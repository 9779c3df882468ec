// The broker's target-side client against a REAL OpenSSH sshd: password, key and certificate
// logins, host key pinning, timeouts, and commands run through the session. Needs root (creates
// throwaway accounts, runs sshd on 127.0.0.1).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "conduit/core/clock.hpp"
#include "conduit/ssh/host_key.hpp"
#include "conduit/ssh/target.hpp"
#include "conduit/vault/ssh_ca.hpp"
#include "sshd_fixture.hpp"
#include "support/process.hpp"

using namespace conduit;
using namespace conduit::ssh;
using namespace std::chrono_literals;
using conduit::test::Sshd;
using conduit::test::SshdOptions;
using conduit::test::TestAccount;
using core::ErrorCode;

namespace {

TargetEndpoint endpoint(const Sshd& sshd, const std::string& account) {
  return TargetEndpoint{"127.0.0.1", sshd.port(), account, sshd.hostKeyLine()};
}

TargetCredential password(std::string_view text) {
  return PasswordCredential{vault::Password::fromText(text)};
}

// An account with a fresh random password and an sshd that accepts passwords for it.
struct PasswordTarget {
  TestAccount account;
  vault::Password secret = generatePassword();
  Sshd sshd{options(account)};

  static SshdOptions options(const TestAccount& account) {
    SshdOptions o;
    o.allowUsers = {account.name()};
    o.passwordAuthentication = true;
    return o;
  }
  PasswordTarget() { account.setPassword(secret.revealText()); }
  TargetEndpoint ep() const { return endpoint(sshd, account.name()); }
  TargetCredential credential() const { return password(secret.revealText()); }
};

// "SHA256:..." of a public key file, as ssh-keygen prints it.
std::string keygenFingerprint(const std::filesystem::path& pub) {
  const auto [rc, out] = conduit::test::runCommand({"ssh-keygen", "-l", "-f", pub.string()});
  INFO(out);
  REQUIRE(rc == 0);
  const auto start = out.find("SHA256:");
  REQUIRE(start != std::string::npos);
  return out.substr(start, out.find(' ', start) - start);
}

// Asserts that sshd saw no authentication attempt at all after the client went away.
void checkNoAuthentication(Sshd& sshd, const std::string& account) {
  // libssh says goodbye after the key exchange; sshd logs that before the connection ends.
  CHECK(sshd.waitForLog("[preauth]").has_value());
  const auto& log = sshd.log();
  INFO("sshd log:\n" << log);
  CHECK(log.find("Accepted") == std::string::npos);
  CHECK(log.find("Failed") == std::string::npos);
  CHECK(log.find("authenticating user") == std::string::npos);
  CHECK(log.find(account) == std::string::npos);
}

std::string run(TargetSession& session, const std::string& command, std::string_view in = {}) {
  auto result = ssh::runCommand(session, command, in, 10s);
  INFO(command);
  REQUIRE(result.ok());
  INFO(result->stderrText);
  CHECK(result->exitStatus == 0);
  return result->stdoutText;
}

}  // namespace

TEST_CASE("a password login runs commands with stdout, stderr, stdin and exit status") {
  PasswordTarget target;
  auto session = connectTarget(target.ep(), target.credential());
  REQUIRE(session.ok());
  CHECK(target.sshd.waitForLog("Accepted password for " + target.account.name()).has_value());
  CHECK(session->hostKeyFingerprint() == keygenFingerprint(target.sshd.hostKeyPublicFile()));
  CHECK(session->account() == target.account.name());
  // The preferred cipher, in both directions, with an OpenSSH peer that has it.
  CHECK(std::string(ssh_get_cipher_in(session->native())) == "aes128-gcm@openssh.com");
  CHECK(std::string(ssh_get_cipher_out(session->native())) == "aes128-gcm@openssh.com");

  CHECK(run(*session, "id -un") == target.account.name() + "\n");

  SECTION("exit status and stderr are passed through") {
    auto result = ssh::runCommand(*session, "sh -c 'echo err >&2; echo out; exit 3'", {}, 10s);
    REQUIRE(result.ok());
    CHECK(result->exitStatus == 3);
    CHECK(result->stderrText == "err\n");
    CHECK(result->stdoutText == "out\n");
    CHECK(result->exitSignal.empty());
  }
  SECTION("stdin reaches the command, also beyond one channel window") {
    CHECK(run(*session, "cat", "hello\nworld") == "hello\nworld");
    std::string big;
    for (int i = 0; big.size() < std::size_t{900} * 1024; ++i) big += std::to_string(i) + "\n";
    CHECK(run(*session, "cat", big) == big);
    // stdout and stdin in flight at once, both larger than the socket buffers
    CHECK(run(*session, "sha256sum", big).size() > 64);
    // A command that exits without reading its input: the rest is dropped, not an error.
    CHECK(run(*session, "echo done", big + big + big) == "done\n");
  }
  SECTION("several commands in turn on one session") {
    for (int i = 0; i < 5; ++i)
      CHECK(run(*session, "echo " + std::to_string(i)) == std::to_string(i) + "\n");
  }
  SECTION("a command killed by a signal reports the signal") {
    auto result = ssh::runCommand(*session, "kill -TERM $$", {}, 10s);
    REQUIRE(result.ok());
    CHECK(result->exitSignal == "TERM");
    CHECK(result->exitStatus == -1);
  }
  SECTION("output beyond the limit is refused") {
    auto result = ssh::runCommand(*session, "head -c 2000000 /dev/zero", {}, 10s);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::io);
    CHECK(result.error().message.find("stdout") != std::string::npos);
  }
  SECTION("a command that outlives the timeout is ended") {
    const auto start = std::chrono::steady_clock::now();
    auto result = ssh::runCommand(*session, "sleep 20", {}, 1s);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::unavailable);
    CHECK(std::chrono::steady_clock::now() - start < 4s);
    // The session is still usable, and the command was ended (SIGTERM) rather than left behind.
    CHECK(run(*session, "echo still") == "still\n");
    bool gone = false;
    for (int i = 0; i < 20 && !gone; ++i) {
      gone = conduit::test::runCommand({"pgrep", "-u", target.account.name(), "-f", "sleep 20"})
                 .first != 0;
      if (!gone) std::this_thread::sleep_for(100ms);
    }
    CHECK(gone);
  }
}

TEST_CASE("a wrong password is refused with a clear message that does not contain it") {
  PasswordTarget target;
  const auto wrong = generatePassword();
  auto session = connectTarget(target.ep(), password(wrong.revealText()));
  REQUIRE_FALSE(session.ok());
  CHECK(session.error().code == ErrorCode::permission_denied);
  const auto& message = session.error().message;
  INFO(message);
  CHECK(message.find("refused the password") != std::string::npos);
  CHECK(message.find(target.account.name()) != std::string::npos);
  CHECK(message.find(std::to_string(target.sshd.port())) != std::string::npos);
  CHECK(message.find(wrong.revealText()) == std::string::npos);
  CHECK(message.find(target.secret.revealText()) == std::string::npos);
  CHECK(target.sshd.waitForLog("Failed password for " + target.account.name()).has_value());
}

TEST_CASE("a target that takes passwords only by keyboard-interactive (PAM) accepts the password") {
  TestAccount account;
  const auto secret = generatePassword();
  account.setPassword(secret.revealText());
  SshdOptions options;
  options.allowUsers = {account.name()};
  options.passwordAuthentication = false;
  options.extraConfig = {"UsePAM yes", "KbdInteractiveAuthentication yes"};
  Sshd sshd(options);

  auto session = connectTarget(endpoint(sshd, account.name()), password(secret.revealText()));
  INFO((session.ok() ? std::string() : session.error().message));
  REQUIRE(session.ok());
  CHECK(sshd.waitForLog("Accepted keyboard-interactive/pam for " + account.name()).has_value());
  CHECK(run(*session, "id -un") == account.name() + "\n");

  // A wrong password is answered once; PAM's second prompt is not answered again.
  const auto wrong = generatePassword();
  auto refused = connectTarget(endpoint(sshd, account.name()), password(wrong.revealText()));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::permission_denied);
  CHECK(refused.error().message.find("refused the password") != std::string::npos);
  CHECK(refused.error().message.find(wrong.revealText()) == std::string::npos);
}

TEST_CASE("a target that offers no password method says so") {
  TestAccount account;
  account.allowKeyLoginsOnly();
  SshdOptions options;
  options.allowUsers = {account.name()};
  Sshd sshd(options);
  auto session = connectTarget(endpoint(sshd, account.name()), password("whatever-it-is"));
  REQUIRE_FALSE(session.ok());
  CHECK(session.error().code == ErrorCode::permission_denied);
  CHECK(session.error().message.find("does not accept password or keyboard-interactive") !=
        std::string::npos);
  CHECK(session.error().message.find("it offers: publickey") != std::string::npos);
}

TEST_CASE("a host key that does not match the pin is refused before authenticating") {
  PasswordTarget target;
  auto other = generateHostKey("other");
  REQUIRE(other.ok());
  auto ep = target.ep();
  ep.pinnedHostKey = other->publicKey;
  auto session = connectTarget(ep, target.credential());
  REQUIRE_FALSE(session.ok());
  CHECK(session.error().code == ErrorCode::permission_denied);
  const auto expected = hostKeyFingerprint(other->privateKey);
  REQUIRE(expected.ok());
  const auto got = keygenFingerprint(target.sshd.hostKeyPublicFile());
  CHECK(session.error().message == "host key of 127.0.0.1:" + std::to_string(target.sshd.port()) +
                                       " does not match the pinned key: expected " + *expected +
                                       ", got " + got);
  checkNoAuthentication(target.sshd, target.account.name());
}

TEST_CASE("the target presents the key type that is pinned") {
  conduit::test::TempDir dir;
  auto ecdsaKey = [&](const std::string& name) {
    const auto [rc, out] = conduit::test::runCommand(
        {"ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", (dir / name).string()});
    INFO(out);
    REQUIRE(rc == 0);
    return dir / name;
  };
  const auto second = ecdsaKey("host_ecdsa");
  const auto stranger = ecdsaKey("stranger_ecdsa");

  TestAccount account;
  const auto secret = generatePassword();
  account.setPassword(secret.revealText());
  SshdOptions options;
  options.allowUsers = {account.name()};
  options.passwordAuthentication = true;
  SECTION("an sshd with Ed25519 and ECDSA host keys, ECDSA pinned") {
    // Ed25519 comes first in the broker's preference; a pinned ECDSA key must still be asked for.
    options.extraConfig = {"HostKey " + second.string()};
    Sshd sshd(options);
    auto ep = endpoint(sshd, account.name());
    ep.pinnedHostKey = conduit::test::readText(second.string() + ".pub");
    auto session = connectTarget(ep, password(secret.revealText()));
    INFO((session.ok() ? std::string() : session.error().message));
    REQUIRE(session.ok());
    CHECK(session->hostKeyFingerprint() == keygenFingerprint(second.string() + ".pub"));

    ep.pinnedHostKey = conduit::test::readText(stranger.string() + ".pub");
    auto refused = connectTarget(ep, password(secret.revealText()));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::permission_denied);
    CHECK(refused.error().message.find("expected " + keygenFingerprint(stranger.string() + ".pub") +
                                       ", got " + keygenFingerprint(second.string() + ".pub")) !=
          std::string::npos);
  }
  SECTION("an sshd with only an Ed25519 key, ECDSA pinned: refused, not trusted") {
    Sshd sshd(options);
    auto ep = endpoint(sshd, account.name());
    ep.pinnedHostKey = conduit::test::readText(second.string() + ".pub");
    auto session = connectTarget(ep, password(secret.revealText()));
    REQUIRE_FALSE(session.ok());
    CHECK(session.error().code == ErrorCode::permission_denied);
    CHECK(session.error().message.find("does not match the pinned key") != std::string::npos);
    checkNoAuthentication(sshd, account.name());
  }
}

TEST_CASE("an empty pin is refused without contacting the target") {
  PasswordTarget target;
  auto ep = target.ep();
  ep.pinnedHostKey.clear();
  auto session = connectTarget(ep, target.credential());
  REQUIRE_FALSE(session.ok());
  CHECK(session.error().code == ErrorCode::permission_denied);
  CHECK(target.sshd.log().find("Connection from") == std::string::npos);
}

TEST_CASE("scanHostKey returns the key sshd has") {
  PasswordTarget target;
  auto key = scanHostKey("127.0.0.1", target.sshd.port(), 5s);
  REQUIRE(key.ok());
  CHECK(*key == target.sshd.hostKeyLine());
  // What the scan returns works as a pin.
  auto ep = target.ep();
  ep.pinnedHostKey = *key;
  CHECK(connectTarget(ep, target.credential()).ok());
}

TEST_CASE("an unreachable or silent target is unavailable within the timeout") {
  ConnectOptions quick;
  quick.timeout = 2s;
  const TargetCredential credential = password("irrelevant");
  auto pin = generateHostKey("pin");
  REQUIRE(pin.ok());

  SECTION("nothing listens") {
    // A port sshd had a moment ago: closed now.
    std::uint16_t port = 0;
    { port = PasswordTarget().sshd.port(); }
    const auto start = std::chrono::steady_clock::now();
    auto session = connectTarget({"127.0.0.1", port, "nobody", pin->publicKey}, credential, quick);
    REQUIRE_FALSE(session.ok());
    CHECK(session.error().code == ErrorCode::unavailable);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
  }
  SECTION("the TCP connection opens but the server never speaks") {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    const auto port = ntohs(addr.sin_port);

    const auto start = std::chrono::steady_clock::now();
    auto session = connectTarget({"127.0.0.1", port, "nobody", pin->publicKey}, credential, quick);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ::close(fd);
    REQUIRE_FALSE(session.ok());
    CHECK(session.error().code == ErrorCode::unavailable);
    CHECK(elapsed >= 1500ms);
    CHECK(elapsed < 5s);
    const auto scan = scanHostKey("127.0.0.1", port, 1s);
    CHECK_FALSE(scan.ok());
  }
}

TEST_CASE("a key login works with a libssh-generated key") {
  TestAccount account;
  account.allowKeyLoginsOnly();
  auto key = generateHostKey("operator-key");
  REQUIRE(key.ok());
  SshdOptions options;
  options.allowUsers = {account.name()};
  options.authorizedKeys = key->publicKey;
  Sshd sshd(options);
  auto session = connectTarget(endpoint(sshd, account.name()),
                               KeyCredential{vault::PrivateKey::fromText(key->privateKey)});
  REQUIRE(session.ok());
  CHECK(run(*session, "id -un") == account.name() + "\n");
  CHECK(sshd.waitForLog("Accepted publickey for " + account.name()).has_value());

  // Another key is refused, with a clear message.
  auto stranger = generateHostKey("stranger");
  REQUIRE(stranger.ok());
  auto refused = connectTarget(endpoint(sshd, account.name()),
                               KeyCredential{vault::PrivateKey::fromText(stranger->privateKey)});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::permission_denied);
  CHECK(refused.error().message.find("refused the key") != std::string::npos);
  CHECK(refused.error().message.find("PRIVATE KEY") == std::string::npos);
}

namespace {

vault::Ed25519KeyPair newKey() {
  auto key = vault::generateEd25519();
  REQUIRE(key.ok());
  return std::move(key).value();
}

// A certificate minted by the vault's CA for one session: principal = account, +-5 minutes.
CertificateCredential mint(const vault::Ed25519KeyPair& ca, const std::string& principal,
                           const std::string& keyId) {
  const auto session = newKey();
  const auto now = core::SystemClock().now();
  vault::CertificateRequest request;
  request.subjectPublicKey = session.publicKey;
  request.keyId = keyId;
  request.serial = 42;
  request.principals = {principal};
  request.validAfter = now - 5min;
  request.validBefore = now + 5min;
  request.sourceAddress = "127.0.0.1/32";
  auto cert = vault::signUserCertificate(request, ca);
  REQUIRE(cert.ok());
  auto text = vault::openSshPrivateKeyText(session, keyId);
  REQUIRE(text.ok());
  return CertificateCredential{std::move(text).value(), cert->line};
}

}  // namespace

TEST_CASE("a certificate minted by the vault's CA logs in, sshd refuses it for another account") {
  TestAccount account;
  account.allowKeyLoginsOnly();
  const auto ca = newKey();
  SshdOptions options;
  options.allowUsers = {account.name()};
  options.trustedUserCaKeys = vault::ed25519PublicKeyLine(ca.publicKey, "conduit-ca");
  Sshd sshd(options);

  auto session =
      connectTarget(endpoint(sshd, account.name()), mint(ca, account.name(), "session-target-ok"));
  REQUIRE(session.ok());
  CHECK(run(*session, "id -un") == account.name() + "\n");
  CHECK(sshd.waitForLog("Accepted certificate ID \"session-target-ok\"").has_value());

  auto refused = connectTarget(endpoint(sshd, account.name()),
                               mint(ca, "someone-else", "session-target-wrong"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::permission_denied);
  CHECK(refused.error().message.find("refused the certificate") != std::string::npos);
  CHECK(sshd.waitForLog("name is not a listed principal").has_value());

  // A certificate from another CA is refused the same way.
  auto rogue = connectTarget(endpoint(sshd, account.name()),
                             mint(newKey(), account.name(), "session-target-rogue"));
  REQUIRE_FALSE(rogue.ok());
  CHECK(rogue.error().code == ErrorCode::permission_denied);
}
