// Rotation of a stored password against a REAL sshd. The broker's administrative session logs in
// as root with a key (sshd: PermitRootLogin prohibit-password) and runs `chpasswd` for the
// account; the account itself may not change its password that way (chpasswd needs root), which
// is also tested. Needs root.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "conduit/ssh/host_key.hpp"
#include "conduit/ssh/target.hpp"
#include "sshd_fixture.hpp"
#include "support/temp_dir.hpp"

using namespace conduit;
using namespace conduit::ssh;
using namespace std::chrono_literals;
using conduit::test::Sshd;
using conduit::test::SshdOptions;
using conduit::test::TestAccount;
using core::ErrorCode;

namespace {

TargetCredential password(const vault::Password& secret) {
  return PasswordCredential{vault::Password::fromBytes(secret.reveal())};
}

// An account with a known password, an admin key for root, and an sshd that accepts both.
struct RotationTarget {
  TestAccount account;
  vault::Password oldPassword = generatePassword();
  HostKeyFiles adminKey = newAdminKey();
  Sshd sshd{options(account, adminKey)};

  static HostKeyFiles newAdminKey() {
    auto key = generateHostKey("conduit-rotation-admin");
    REQUIRE(key.ok());
    return std::move(key).value();
  }
  static SshdOptions options(const TestAccount& account, const HostKeyFiles& key) {
    SshdOptions o;
    o.allowUsers = {account.name(), "root"};
    o.passwordAuthentication = true;
    o.permitRootLogin = "prohibit-password";
    o.authorizedKeys = key.publicKey;
    return o;
  }
  RotationTarget() { account.setPassword(oldPassword.revealText()); }

  TargetEndpoint ep() const {
    return TargetEndpoint{"127.0.0.1", sshd.port(), account.name(), sshd.hostKeyLine()};
  }
  TargetSession admin() const {
    auto session = connectTarget({"127.0.0.1", sshd.port(), "root", sshd.hostKeyLine()},
                                 KeyCredential{vault::PrivateKey::fromText(adminKey.privateKey)});
    REQUIRE(session.ok());
    return std::move(session).value();
  }
};

}  // namespace

TEST_CASE("after rotation the old password is refused and the new one works") {
  RotationTarget target;
  REQUIRE(connectTarget(target.ep(), password(target.oldPassword)).ok());

  auto admin = target.admin();
  const auto newPassword = generatePassword();
  const auto rotated = rotatePassword(target.ep(), admin, newPassword);
  INFO((rotated.ok() ? std::string() : rotated.error().message));
  REQUIRE(rotated.ok());

  auto old = connectTarget(target.ep(), password(target.oldPassword));
  REQUIRE_FALSE(old.ok());
  CHECK(old.error().code == ErrorCode::permission_denied);
  auto fresh = connectTarget(target.ep(), password(newPassword));
  REQUIRE(fresh.ok());
  auto who = ssh::runCommand(*fresh, "id -un", {}, 10s);
  REQUIRE(who.ok());
  CHECK(who->stdoutText == target.account.name() + "\n");

  // The administrative session stays usable for the next rotation.
  const auto third = generatePassword();
  REQUIRE(rotatePassword(target.ep(), admin, third).ok());
  CHECK_FALSE(connectTarget(target.ep(), password(newPassword)).ok());
  CHECK(connectTarget(target.ep(), password(third)).ok());
}

TEST_CASE("the new password reaches the command on stdin only, and success is verified") {
  RotationTarget target;
  auto admin = target.admin();
  const auto newPassword = generatePassword();
  // A "password command" that only records its input and command line, and changes nothing.
  const auto input = target.sshd.dir() / "stdin.txt";
  const auto args = target.sshd.dir() / "args.txt";
  const std::string command = "sh -c 'cat > " + input.string() +
                              "; tr \"\\\\000\" \" \" < /proc/$$/cmdline > " + args.string() + "'";
  const auto rotated = rotatePassword(target.ep(), admin, newPassword, command);
  REQUIRE_FALSE(rotated.ok());
  // The command "succeeded" but the password did not change: rotation must not report success.
  CHECK(rotated.error().code == ErrorCode::conflict);
  CHECK(rotated.error().message.find("logging in with the new password failed") !=
        std::string::npos);
  CHECK(rotated.error().message.find(newPassword.revealText()) == std::string::npos);
  CHECK(conduit::test::readText(input) ==
        target.account.name() + ":" + std::string(newPassword.revealText()) + "\n");
  const auto commandLine = conduit::test::readText(args);
  CHECK_FALSE(commandLine.empty());
  CHECK(commandLine.find(newPassword.revealText()) == std::string::npos);
  // The old password still works.
  CHECK(connectTarget(target.ep(), password(target.oldPassword)).ok());
}

TEST_CASE("an account without the right to run chpasswd gets a clear error, nothing changes") {
  RotationTarget target;
  // The account's own session: chpasswd as a normal user fails.
  auto self = connectTarget(target.ep(), password(target.oldPassword));
  REQUIRE(self.ok());
  const auto newPassword = generatePassword();
  const auto rotated = rotatePassword(target.ep(), *self, newPassword);
  REQUIRE_FALSE(rotated.ok());
  CHECK(rotated.error().code == ErrorCode::io);
  const auto& message = rotated.error().message;
  INFO(message);
  CHECK(message.find("'chpasswd' exited with status") != std::string::npos);
  CHECK(message.find(target.account.name()) != std::string::npos);
  CHECK(message.find(newPassword.revealText()) == std::string::npos);
  CHECK(message.find(target.oldPassword.revealText()) == std::string::npos);
  CHECK(connectTarget(target.ep(), password(target.oldPassword)).ok());
  CHECK_FALSE(connectTarget(target.ep(), password(newPassword)).ok());

  SECTION("sudo -n where sudo is missing or not allowed fails the same way") {
    const auto viaSudo = rotatePassword(target.ep(), *self, newPassword, "sudo -n chpasswd");
    REQUIRE_FALSE(viaSudo.ok());
    CHECK(viaSudo.error().code == ErrorCode::io);
    CHECK(viaSudo.error().message.find("'sudo -n chpasswd' exited with status") !=
          std::string::npos);
    CHECK(connectTarget(target.ep(), password(target.oldPassword)).ok());
  }
}

TEST_CASE("rotation refuses input that would change another account") {
  RotationTarget target;
  auto admin = target.admin();
  const auto newPassword = generatePassword();
  for (const std::string account : {"", "root:x", "a\nroot", "two words"}) {
    auto ep = target.ep();
    ep.account = account;
    const auto result = rotatePassword(ep, admin, newPassword);
    INFO(account);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::invalid_argument);
  }
  const auto broken = vault::Password::fromText("abc\nroot:owned");
  const auto result = rotatePassword(target.ep(), admin, broken);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::invalid_argument);
  CHECK(result.error().message.find("owned") == std::string::npos);
  CHECK(rotatePassword(target.ep(), admin, vault::Password{}).error().code ==
        ErrorCode::invalid_argument);
  CHECK(rotatePassword(target.ep(), admin, newPassword, "").error().code ==
        ErrorCode::invalid_argument);
  // Nothing was changed.
  CHECK(connectTarget(target.ep(), password(target.oldPassword)).ok());
}
