#pragma once

// The plant the SSH gateway's integration tests run against (shared with the web shell's tests):
// `conduit` CLI set-up, a real OpenSSH target and, optionally, `conduit serve`.

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "conduit/core/totp.hpp"
#include "ssh/integration/sshd_fixture.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace conduit::test {

inline constexpr const char* kPolicy = R"(
[[rule]]
id = "vendor-ssh-test"
effect = "allow"
[rule.match]
roles = ["vendor"]
protocols = ["ssh"]
[rule.limits]
max_duration = "4h"
warning_period = "1m"
approvals = 1
recording = "off"
mfa = "required"
[rule.ssh]
sftp = true
command_deny = ["shutdown*", "reboot*"]
)";

inline std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

/// A plant for gateway tests: a data directory from `conduit init`, a real sshd target trusting
/// the broker's CA, a vendor (alice, key + TOTP) and an engineer (erin), assets `hmi` and
/// `other` on the target, the policy in `dir/policy.toml`, and (unless `serve` is false)
/// `conduit serve` running with its SSH gateway.
struct Plant {
  test::TempDir dir;
  std::string data = (dir / "data").string();
  test::TestAccount account{"conduit-gw"};
  std::unique_ptr<test::Sshd> target;
  std::unique_ptr<test::Process> broker;
  std::uint16_t sshPort = 0;
  std::vector<unsigned char> totpSeed;

  std::pair<int, std::string> conduit(std::vector<std::string> args) {
    args.insert(args.begin(), CONDUIT_BINARY);
    return test::runCommand(args);
  }
  void ok(std::vector<std::string> args) {
    auto [rc, out] = conduit(args);
    INFO(out);
    REQUIRE(rc == 0);
  }
  std::string admin(const std::string& as, std::vector<std::string> args) {
    std::vector<std::string> full{"admin", "--data-dir", data};
    if (!as.empty()) {
      full.push_back("--as");
      full.push_back(as);
    }
    full.insert(full.end(), args.begin(), args.end());
    auto [rc, out] = conduit(full);
    INFO(out);
    REQUIRE(rc == 0);
    return out;
  }

  /// `sshConfig`: more lines for conduit.toml's [ssh] table.
  explicit Plant(const std::string& policy = kPolicy, const std::string& extraConfig = "",
                 bool serve = true, const std::string& sshConfig = "") {
    ok({"init", "--data-dir", data});
    auto [rcCa, caLine] = conduit({"vault", "--data-dir", data, "ssh-ca", "public-key"});
    REQUIRE(rcCa == 0);
    account.allowKeyLoginsOnly();
    test::SshdOptions o;
    o.allowUsers = {account.name()};
    o.trustedUserCaKeys = caLine;
    // The target would accept these; the broker decides which ones it passes on.
    o.extraConfig = {"AcceptEnv LC_* LD_PRELOAD"};
    target = std::make_unique<test::Sshd>(o);

    test::writeText(dir / "policy.toml", policy);
    test::writeText(dir / "pw", "vendor-password-1\n");
    admin("", {"group", "add", "ops"});
    admin("", {"vendor", "add", "acme"});
    admin("", {"user", "add", "alice", "--role", "vendor", "--vendor", "acme", "--password-file",
               (dir / "pw").string()});
    admin("", {"user", "add", "erin", "--role", "engineer", "--group", "ops", "--password-file",
               (dir / "pw").string()});
    admin("", {"asset", "add", "hmi", "--owner-group", "ops", "--criticality", "medium", "--ssh",
               "127.0.0.1:" + std::to_string(target->port()) + ":" + account.name(),
               "--ssh-host-key", target->hostKeyLine()});
    admin("", {"asset", "add", "other", "--owner-group", "ops", "--ssh",
               "127.0.0.1:" + std::to_string(target->port()) + ":" + account.name(),
               "--ssh-host-key", target->hostKeyLine()});
    auto [rcKey, keyOut] = test::runCommand(
        {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (dir / "vendor_key").string()});
    REQUIRE(rcKey == 0);
    admin("", {"user", "add-key", "alice", "--key-file", (dir / "vendor_key.pub").string()});
    const std::string uri = admin("", {"user", "enrol-totp", "alice"});
    const auto p = uri.find("secret=") + 7;
    totpSeed = *core::base32Decode(uri.substr(p, uri.find('&', p) - p));

    test::writeText(
        dir / "conduit.toml",
        "data_dir = \"" + data +
            "\"\n[portal]\nport = 0\n[ssh]\nport = 0\nmax_unauthenticated_per_source = 5\n"
            "login_banner = \"AUTHORISED USE ONLY\"\n" +
            sshConfig + "[policy]\nfiles = [\"" + (dir / "policy.toml").string() + "\"]\n" +
            extraConfig);
    if (!serve) return;
    broker = std::make_unique<test::Process>(std::vector<std::string>{
        CONDUIT_BINARY, "serve", "--config", (dir / "conduit.toml").string()});
    auto line = broker->waitForLine("event=ssh_listening", std::chrono::seconds(20));
    INFO(broker->errors());
    REQUIRE(line.has_value());
    sshPort = static_cast<std::uint16_t>(std::stoi(line->substr(line->find("port=") + 5)));
  }

  void grant(const std::string& asset = "hmi", const std::string& duration = "1h") {
    const std::string out = admin("alice", {"request", "--asset", asset, "--protocol", "ssh",
                                            "--duration", duration, "--reason", "test"});
    const auto id = out.substr(8, out.find(' ', 8) - 8);
    admin("erin", {"approve", id, "--comment", "ok"});
  }

  /// The environment that makes OpenSSH tools answer the second factor from askpass.sh.
  std::string askpassEnv() const {
    return "SSH_ASKPASS=" + (dir / "askpass.sh").string() +
           " SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ";
  }
  /// Options for ssh, scp and sftp: the vendor's key and one shared connection (ControlMaster,
  /// control socket `dir/cm`): one login, as a TOTP code is accepted once, then each command is
  /// a new channel on it.
  std::string sharedConnectionOptions() const {
    return " -i " + (dir / "vendor_key").string() +
           " -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
           " -o ControlMaster=auto -o ControlPath=" +
           (dir / "cm").string() + " -o ControlPersist=60 ";
  }

  /// Writes the current TOTP code where the askpass script reads it.
  void freshCode() {
    const auto now =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    test::writeText(dir / "code", core::totpCode(totpSeed, core::totpStep(now)) + "\n");
    test::writeText(dir / "askpass.sh", "#!/bin/sh\ncat " + (dir / "code").string() + "\n");
    std::filesystem::permissions(dir / "askpass.sh", std::filesystem::perms::owner_all);
  }

  /// ssh through the gateway with key + TOTP; returns {exit code, stdout, stderr}.
  std::tuple<int, std::string, std::string> ssh(const std::string& login,
                                                const std::string& command,
                                                const std::string& extra = "") {
    auto [rc, err] = sshPiped(login, command, "</dev/null >" + (dir / "out").string(), extra);
    return {rc, test::readText(dir / "out"), err};
  }

  /// As ssh(), with the caller's redirections and pipes after the ssh command (e.g. "<in
  /// >out" or "</dev/null | sha256sum >out"); stderr goes to err, which is returned.
  std::tuple<int, std::string> sshPiped(const std::string& login, const std::string& command,
                                        const std::string& plumbing,
                                        const std::string& extra = "") {
    freshCode();
    const std::string cmd =
        "SSH_ASKPASS=" + (dir / "askpass.sh").string() +
        " SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ssh -T -p " + std::to_string(sshPort) + " -i " +
        (dir / "vendor_key").string() +
        " -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
        " -o PreferredAuthentications=publickey,keyboard-interactive -o ConnectTimeout=10 " +
        extra + " " + login + "@127.0.0.1 " + shellQuote(command) + " 2>" + (dir / "err").string() +
        " " + plumbing;
    auto [rc, ignored] = test::runCommand({"sh", "-c", cmd});
    return {rc, test::readText(dir / "err")};
  }
};

}  // namespace conduit::test
