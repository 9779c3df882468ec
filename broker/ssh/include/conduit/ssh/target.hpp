#pragma once

// The target side of the SSH gateway: the libssh client the broker uses to log in to an asset
// with a just-in-time credential (a minted certificate, or a vault password or key), and the
// rotation of stored passwords through such a connection.

#include <libssh/libssh.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "conduit/core/result.hpp"
#include "conduit/vault/secret.hpp"

namespace conduit::ssh {

/// Where and as whom the broker logs in, and the host key it expects there.
struct TargetEndpoint {
  std::string host;
  std::uint16_t port = 22;
  std::string account;
  // One public key line, "ssh-ed25519 AAAA..." (a trailing comment is ignored). Empty: every
  // connection is refused. The broker never trusts a key it has not been told to trust; an
  // administrator pins it explicitly (scanHostKey shows what the target presents).
  std::string pinnedHostKey;
};

/// A password from the vault. Sent with the "password" method, or, if the target offers only
/// "keyboard-interactive" (sshd with PAM and PasswordAuthentication no), as the answer to its
/// single hidden prompt; a second prompt (a retry or a one-time code) is never answered.
struct PasswordCredential {
  vault::Password password;
};

/// A per-session key pair and the certificate the vault's SSH CA minted for it.
struct CertificateCredential {
  vault::PrivateKey privateKeyText;  // unencrypted OpenSSH private key text
  std::string certificateLine;       // "ssh-ed25519-cert-v01@openssh.com AAAA... [comment]"
};

/// A stored private key from the vault.
struct KeyCredential {
  vault::PrivateKey privateKeyText;  // unencrypted OpenSSH private key text
};

using TargetCredential = std::variant<PasswordCredential, CertificateCredential, KeyCredential>;

/// Prints the kind of credential and "<secret>" for its secret half, never the secret.
std::ostream& operator<<(std::ostream& os, const PasswordCredential& credential);
std::ostream& operator<<(std::ostream& os, const CertificateCredential& credential);
std::ostream& operator<<(std::ostream& os, const KeyCredential& credential);
std::ostream& operator<<(std::ostream& os, const TargetCredential& credential);

// Algorithms offered to targets. Only modern ones: no SHA-1 MACs or signatures, no CBC, no
// finite-field or NIST-curve key exchange by default. A site with an older asset widens the lists
// for that asset explicitly (ConnectOptions), never globally.
// aes128-gcm first: the relay costs the same for every cipher (OpenSSL), but OpenSSH peers spend
// twice the CPU on chacha20 (measured, see shared/testing.md).
inline constexpr const char* kDefaultCiphers =
    "aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,"
    "aes128-ctr,aes192-ctr,aes256-ctr";
inline constexpr const char* kDefaultKeyExchange = "curve25519-sha256,curve25519-sha256@libssh.org";
inline constexpr const char* kDefaultHostKeyAlgorithms =
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,"
    "rsa-sha2-256";
// Used with the CTR ciphers only (GCM and chacha20-poly1305 carry their own MAC).
inline constexpr const char* kDefaultMacs =
    "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512";
// Client-authentication key types; certificates first. No "ssh-rsa" (SHA-1 signatures).
inline constexpr const char* kDefaultPublicKeyTypes =
    "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,"
    "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,"
    "rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,"
    "ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256";

/// How the broker connects to a target. No system or user ssh configuration file is ever read:
/// a stray ~/.ssh/config or /etc/ssh/ssh_config must not weaken or redirect broker connections.
struct ConnectOptions {
  // Applies to each network step (TCP connect and key exchange, each authentication round
  // trip), not to the whole call. 10 s: a PLC-side host on a slow link answers well within it,
  // and a vendor waiting at the gateway should not wait longer for a dead target.
  std::chrono::seconds timeout{10};
  std::string ciphers = kDefaultCiphers;
  std::string keyExchange = kDefaultKeyExchange;
  // The pinned key's own algorithms are moved to the front of this list, so that a target with
  // several host keys presents the pinned one.
  std::string hostKeyAlgorithms = kDefaultHostKeyAlgorithms;
  std::string macs = kDefaultMacs;
  std::string publicKeyTypes = kDefaultPublicKeyTypes;
};

/// An authenticated libssh client session to a target (RAII: disconnects and frees). Movable,
/// not copyable. Like every libssh session it must be used by one thread at a time.
class TargetSession {
 public:
  TargetSession(TargetSession&&) noexcept = default;
  TargetSession& operator=(TargetSession&&) noexcept = default;
  TargetSession(const TargetSession&) = delete;
  TargetSession& operator=(const TargetSession&) = delete;
  ~TargetSession() = default;

  /// The libssh session, for channels and for joining an event loop. Owned by this object.
  [[nodiscard]] ssh_session native() noexcept { return session_.get(); }
  /// "host:port", for messages and logs.
  [[nodiscard]] const std::string& target() const noexcept { return target_; }
  /// The account the session is logged in as.
  [[nodiscard]] const std::string& account() const noexcept { return account_; }
  /// "SHA256:..." of the host key the target presented (equal to the pinned key), for the
  /// session's metadata.
  [[nodiscard]] const std::string& hostKeyFingerprint() const noexcept {
    return hostKeyFingerprint_;
  }

 private:
  struct Closer {
    void operator()(ssh_session session) const noexcept;
  };
  TargetSession(ssh_session session, std::string target, std::string account,
                std::string hostKeyFingerprint);
  friend core::Result<TargetSession> connectTarget(const TargetEndpoint&, const TargetCredential&,
                                                   const ConnectOptions&);

  std::unique_ptr<std::remove_pointer_t<ssh_session>, Closer> session_;
  std::string target_;
  std::string account_;
  std::string hostKeyFingerprint_;
};

/// Connects, verifies the host key against the pin, and authenticates with the credential.
/// Everything local (pin, key, certificate) is checked before the first packet is sent.
/// Fails with: invalid_argument (malformed endpoint, pin, key or certificate; a certificate
/// that is not for the key); permission_denied (no pin, a host key that does not match the pin
/// (the message gives both fingerprints; no authentication is attempted), a refused password,
/// key or certificate); unavailable (unresolvable host, refused connection, timeout, no common
/// algorithm, connection lost). Messages never contain the credential. Blocking; for use before
/// the session joins an event loop.
core::Result<TargetSession> connectTarget(const TargetEndpoint& ep, const TargetCredential& cred,
                                          const ConnectOptions& opt = {});

/// The host key line a target presents ("ssh-ed25519 AAAA...", the first of
/// kDefaultHostKeyAlgorithms it has), for an administrator's explicit trust-on-first-use action.
/// Nothing is authenticated. Fails with unavailable if the target cannot be reached in time.
core::Result<std::string> scanHostKey(const std::string& host, std::uint16_t port,
                                      std::chrono::seconds timeout);

// 1 MiB per stream: enough for any administrative command the broker runs (chpasswd, checks);
// a command that prints more is refused rather than let a target make the broker buffer
// without bound.
inline constexpr std::size_t kMaxExecOutputBytes = std::size_t{1} << 20;

/// What a command run by runCommand did.
struct ExecResult {
  int exitStatus = -1;     // -1 if the target sent no exit status (see exitSignal)
  std::string stdoutText;  // at most kMaxExecOutputBytes
  std::string stderrText;  // at most kMaxExecOutputBytes
  std::string exitSignal;  // "TERM", "KILL", ... if the command was killed by a signal
};

/// Runs one command in an exec channel, writes stdinData then EOF, and collects output and exit
/// status. A command that exits without reading all of stdinData is not an error. On timeout the
/// command is sent SIGTERM (if the target honours signal requests) and the channel closed.
/// stdinData is handed to libssh directly (never copied here), so a secret can be passed as a view
/// of guarded memory. Fails with: unavailable (the channel cannot be opened, the target refuses the
/// exec request, the connection drops, or the timeout passes: the channel is closed); io (the
/// output exceeds kMaxExecOutputBytes on either stream: the channel is closed). Blocking, like
/// connectTarget: the session must not be in an ssh_event of its own meanwhile (this call polls it
/// in a private one).
core::Result<ExecResult> runCommand(TargetSession& s, const std::string& command,
                                    std::string_view stdinData, std::chrono::seconds timeout);

/// Sets the password of ep.account on the target to newPassword by running chpasswdCommand
/// through `session`, then logs in to ep as ep.account with the new password to verify it.
/// The password goes only through the command's stdin ("account:password\n", chpasswd's input
/// format), never its command line. Requirement on the target: the session's account may set
/// ep.account's password with that command: root with "chpasswd" (the default), or an account
/// allowed password-less sudo with "sudo -n chpasswd".
/// Fails with: invalid_argument (an account name with ':' or control characters, an empty
/// password or one with a line break or NUL, an empty command); io (the command exited non-zero;
/// the message carries its stderr with any occurrence of the password removed); conflict (the
/// command succeeded but the new password does not log in); and any error of runCommand or
/// connectTarget. On failure the caller must assume the old password may or may not still be
/// valid and keep both until a rotation succeeds.
core::Status rotatePassword(const TargetEndpoint& ep, TargetSession& session,
                            const vault::Password& newPassword,
                            const std::string& chpasswdCommand = "chpasswd",
                            const ConnectOptions& opt = {});

// 24 characters from a 57-letter alphabet: about 140 bits, far beyond any online or offline
// guessing; no look-alike characters (0/O, 1/l/I) so an operator reading one in an emergency
// copies it right; no ':' or whitespace, which chpasswd's input format would split on.
inline constexpr std::size_t kGeneratedPasswordLength = 24;
inline constexpr std::string_view kPasswordAlphabet =
    "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/// A new random password for rotation (kGeneratedPasswordLength characters from
/// kPasswordAlphabet, in guarded memory). Aborts if libsodium cannot initialise: a rotation must
/// never fall back to a weak password.
vault::Password generatePassword();

}  // namespace conduit::ssh
