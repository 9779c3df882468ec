#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "conduit/core/result.hpp"

namespace conduit::app {

/// Everything `conduit.toml` can say. Defaults are the safe choice; docs/configuration.md
/// documents every key with its default and range.
struct Config {
  std::filesystem::path dataDir = "/var/lib/conduit";

  struct Portal {
    std::string address = "127.0.0.1";  // loopback unless the operator opens it on purpose
    std::uint16_t port = 8443;
    std::filesystem::path tlsCertificate;  // empty: <data_dir>/tls/portal.crt
    std::filesystem::path tlsPrivateKey;   // empty: <data_dir>/tls/portal.key
    std::size_t maxHeaderBytes = 8 * 1024;
    std::size_t maxBodyBytes = 1024 * 1024;
    int requestTimeoutSeconds = 30;
    int idleTimeoutSeconds = 60;
    std::size_t maxConnections = 1024;
    unsigned threads = 2;
    int shutdownGraceSeconds = 10;
    // Browser sessions: 15 min idle, 8 h absolute (one shift), then both factors again.
    int sessionIdleMinutes = 15;
    int sessionMaxHours = 8;
    int loginAttemptsPerMinute = 10;  // per client address, password and TOTP steps together
    std::filesystem::path webRoot;    // empty: the front end built in the source tree
    std::string publicSshHost;        // host name vendors type in `ssh`; empty: ssh.address
  } portal;

  struct Ssh {
    bool enabled = true;
    std::string address = "127.0.0.1";
    std::uint16_t port = 2222;
    std::string loginBanner =
        "Authorised use only. Sessions through Conduit are recorded and audited.";
    int authTimeoutSeconds = 30;
    int maxAuthAttempts = 3;
    int maxConnections = 1000;
    int maxUnauthenticatedPerSource = 10;
    int certificateValiditySeconds = 300;
    std::string certificateSourceAddress;  // empty: certificates carry no source-address
    int tunnelIdleTimeoutSeconds = 900;    // an `ssh -L` connection idle this long is closed
  } ssh;

  struct Rdp {
    // The worker executable run once per browser RDP session; empty: conduit-rdp-worker next
    // to the conduit executable.
    std::filesystem::path worker;
    int connectTimeoutSeconds = 15;  // a Windows logon over NLA takes a few seconds
    int keyframeSeconds = 20;        // full-screen frames for replay to seek to
  } rdp;

  struct Recording {
    // 90 days: NERC CIP-007 R4.3 asks logs to be kept at least 90 days.
    int retentionDays = 90;
    // X25519 public key (64 hex digits) of the auditors: every stream key is also sealed to it,
    // so auditors can read recordings without the broker's vault. Empty: off.
    std::string auditorPublicKey;
  } recording;

  struct Database {
    int busyTimeoutMs = 5000;
  } database;

  struct Auth {
    int maxFailedLogins = 5;   // then the account locks (CIP-007 R5.7, IEC 62443 SR 1.11)
    int lockoutSeconds = 900;  // how long it stays locked
  } auth;

  struct Vault {
    std::filesystem::path masterKeyFile;  // empty: <data_dir>/vault/master.key
  } vault;

  struct Policy {
    // Policy files in evaluation order. Empty: every *.toml in <data_dir>/policies, by name.
    std::vector<std::filesystem::path> files;
  } policy;

  struct Log {
    std::string level = "info";
  } log;

  // ---- [notify] and [[notify.webhook]]: webhook notifications (docs/notifications.md) ----
  struct Notify {
    struct Webhook {
      std::string name;
      std::string url;  // https, or http to 127.0.0.1/[::1]/localhost only
      std::filesystem::path secretFile;
      std::filesystem::path caFile;     // empty: the system's CA certificates
      std::vector<std::string> events;  // empty: every notification event
      int maxAttempts = 6;
    };
    std::vector<Webhook> webhooks;
    int windowWarningMinutes = 10;
    int pollIntervalMs = 500;
  } notify;
};

/// Parses TOML text. `source` names the file in messages ("conduit.toml:7: ..."). Relative
/// paths are resolved against `baseDir`. Unknown keys and bad values fail with
/// `invalid_argument`, naming the key and its line.
core::Result<Config> parseConfig(std::string_view text, const std::string& source,
                                 const std::filesystem::path& baseDir);

/// Reads and parses the file. Fails with `unavailable` if it cannot be read.
core::Result<Config> loadConfig(const std::filesystem::path& file);

/// Fills paths left empty from the data directory.
Config withDerivedPaths(Config config);

/// The policy files to load: config.policy.files, or every *.toml in <data_dir>/policies
/// sorted by name.
std::vector<std::filesystem::path> policyFiles(const Config& config);

}  // namespace conduit::app
