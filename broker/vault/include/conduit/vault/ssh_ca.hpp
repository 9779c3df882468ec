#pragma once

// The SSH user certificate authority: mints OpenSSH user certificates that bind one session's
// key to one target account for a few minutes. docs/vault-ssh-ca.md describes what they contain
// and how a target's sshd is set up to trust them.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/clock.hpp"
#include "conduit/core/result.hpp"
#include "conduit/vault/secret.hpp"

namespace conduit::vault {

inline constexpr std::size_t kEd25519PublicKeyBytes = 32;
inline constexpr std::size_t kEd25519SecretKeyBytes = 64;
// OpenSSH's SSHKEY_CERT_MAX_PRINCIPALS: sshd refuses a certificate with more.
inline constexpr std::size_t kMaxCertificatePrincipals = 256;
// 1 KiB per key id, principal, comment and source-address list: far above any account name,
// session id or address list the broker uses, and a bound on what a caller can make us sign.
inline constexpr std::size_t kMaxCertificateFieldBytes = 1024;

using Ed25519PublicKey = std::array<unsigned char, kEd25519PublicKeyBytes>;

/// An Ed25519 key pair; the secret half lives in guarded memory.
struct Ed25519KeyPair {
  Ed25519PublicKey publicKey{};
  PrivateKey secretKey;  // 64 bytes, libsodium's format: seed || public key
};

/// Generates a fresh key pair (a CA key or a per-session key). Fails with `io` only if libsodium
/// cannot initialise.
core::Result<Ed25519KeyPair> generateEd25519();

/// The public key as one authorized_keys / TrustedUserCAKeys line: "ssh-ed25519 AAAA... comment".
/// Control characters in the comment are replaced by '?' so a comment can never start a second
/// line (that would add a second trusted key to the file the line is written to).
std::string ed25519PublicKeyLine(const Ed25519PublicKey& publicKey, std::string_view comment);

/// The pair as an unencrypted OpenSSH private key file ("-----BEGIN OPENSSH PRIVATE KEY-----",
/// cipher "none"), as accepted by `ssh -i`, `ssh-keygen` and libssh's
/// ssh_pki_import_privkey_base64. The text is a secret: it never leaves guarded memory here.
/// Fails with `invalid_argument` if the secret key is not 64 bytes, does not belong to the public
/// key, or the comment is longer than kMaxCertificateFieldBytes.
core::Result<PrivateKey> openSshPrivateKeyText(const Ed25519KeyPair& keyPair,
                                               std::string_view comment);

/// What a user certificate says. signUserCertificate takes it; verifyUserCertificate returns it.
struct CertificateRequest {
  Ed25519PublicKey subjectPublicKey{};  // the per-session key
  std::string keyId;                    // the session id; sshd logs it on every login
  std::uint64_t serial = 0;             // unique per certificate, for revocation lists (KRL)
  std::vector<std::string> principals;  // the asset endpoint's account
  core::TimePoint validAfter{};
  core::TimePoint validBefore{};
  // Critical option "source-address": a comma-separated CIDR list ("192.0.2.10/32,2001:db8::/64").
  // sshd refuses the certificate from any other client address.
  std::optional<std::string> sourceAddress;
  // Extensions. Everything but a PTY is off by default: a session gets only what its grant names.
  bool permitPty = true;
  bool permitPortForwarding = false;
  bool permitAgentForwarding = false;
  bool permitX11Forwarding = false;
  bool permitUserRc = false;
};

/// An OpenSSH certificate: the wire blob and its one-line form
/// "ssh-ed25519-cert-v01@openssh.com AAAA... keyid" (the content of a "-cert.pub" file).
struct Certificate {
  std::vector<unsigned char> blob;
  std::string line;
};

/// Builds an `ssh-ed25519-cert-v01@openssh.com` user certificate for the request and signs it
/// with the CA key. Fails with `invalid_argument` for: no principals or more than
/// kMaxCertificatePrincipals, an empty principal or key id, control characters in either,
/// validBefore <= validAfter, a time before 1970, a malformed source-address list, or a CA key
/// pair whose halves do not match.
core::Result<Certificate> signUserCertificate(const CertificateRequest& request,
                                              const Ed25519KeyPair& ca);

/// Parses a certificate blob (untrusted bytes: every read is bounds-checked) and checks that it
/// is an Ed25519 user certificate signed by `caPublicKey`. Returns its fields; a validity end of
/// "forever" (beyond what TimePoint holds) comes back as TimePoint::max(). Fails with
/// `invalid_argument` for any malformation (truncation, trailing bytes, a host certificate, no
/// principals, unsorted or duplicate option names, an unknown critical option) and with
/// `corrupt` if it was signed by another key or the signature does not verify. Unknown
/// extensions are skipped, as OpenSSH does.
core::Result<CertificateRequest> verifyUserCertificate(std::span<const unsigned char> blob,
                                                       const Ed25519PublicKey& caPublicKey);

}  // namespace conduit::vault
