#pragma once

// Throwaway OpenSSH servers and accounts for integration tests (see shared/testing.md, "OpenSSH
// target with a certificate authority"). Needs root: sshd binds as root and accounts are
// created with useradd. Failures to set up throw std::runtime_error with the details (Catch
// reports them), so the fixture works in any test.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace conduit::test {

/// A local account created for one test and deleted with its home directory afterwards, so
/// that parallel test processes never share (or change) each other's accounts. The name is
/// `prefix` plus a random suffix.
class TestAccount {
 public:
  explicit TestAccount(const std::string& prefix = "conduit-t");
  ~TestAccount();
  TestAccount(const TestAccount&) = delete;
  TestAccount& operator=(const TestAccount&) = delete;

  const std::string& name() const { return name_; }
  /// Sets the password (chpasswd, through stdin).
  void setPassword(std::string_view password) const;
  /// Unlocks the account for key and certificate logins only: useradd leaves it locked ("!"),
  /// and sshd with UsePAM no refuses locked accounts even for keys. "*" allows no password.
  void allowKeyLoginsOnly() const;

 private:
  std::string name_;
};

/// What a throwaway sshd accepts. Defaults are the strict choices; a test turns on what it
/// exercises.
struct SshdOptions {
  std::vector<std::string> allowUsers;  // AllowUsers; must not be empty
  bool passwordAuthentication = false;
  // Lines for TrustedUserCAKeys (written to a file); empty: no CA is trusted.
  std::string trustedUserCaKeys;
  // authorized_keys content, used for every allowed user (one file, readable by all of them);
  // empty: AuthorizedKeysFile none.
  std::string authorizedKeys;
  std::string permitRootLogin = "no";  // "prohibit-password": root with a key or certificate
  std::string logLevel = "VERBOSE";    // logs accepted and refused logins with their reasons
  // Further sshd_config lines, written before the fixture's own: sshd uses the first value of
  // a keyword, so they override the settings above ("UsePAM yes", a second "HostKey", ...).
  // No Match blocks (they would swallow the lines that follow).
  std::vector<std::string> extraConfig;
};

/// A throwaway sshd on 127.0.0.1 and a random free port in 20000-60000, with its own Ed25519
/// host key and configuration in a private directory. Listening when the constructor returns;
/// stopped by PID (SIGTERM, then SIGKILL) when destroyed.
class Sshd {
 public:
  explicit Sshd(const SshdOptions& options);
  ~Sshd();
  Sshd(const Sshd&) = delete;
  Sshd& operator=(const Sshd&) = delete;

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return process_->pid(); }
  const std::filesystem::path& dir() const { return dir_.path(); }
  const std::filesystem::path& configFile() const { return config_; }
  /// The host public key file (".pub": "ssh-ed25519 AAAA... comment").
  const std::filesystem::path& hostKeyPublicFile() const { return hostKeyPub_; }
  /// The host key as "ssh-ed25519 AAAA..." (type and key, no comment), as a pin holds it.
  std::string hostKeyLine() const;

  /// Waits until sshd logs a line containing `needle`; returns that line.
  std::optional<std::string> waitForLog(
      const std::string& needle, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Everything sshd logged so far, after reading what it wrote in the last `settle`.
  const std::string& log(std::chrono::milliseconds settle = std::chrono::milliseconds(200));

 private:
  TempDir dir_;
  std::filesystem::path config_;
  std::filesystem::path hostKeyPub_;
  std::uint16_t port_ = 0;
  std::unique_ptr<Process> process_;
};

/// Runs argv with `input` on its stdin; returns {exit code, stdout+stderr}.
std::pair<int, std::string> runWithInput(const std::vector<std::string>& argv,
                                         std::string_view input);

}  // namespace conduit::test
