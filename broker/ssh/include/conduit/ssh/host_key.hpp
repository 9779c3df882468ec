#pragma once

#include <string>

#include "conduit/core/result.hpp"

namespace conduit::ssh {

/// A freshly generated host key in OpenSSH file formats.
struct HostKeyFiles {
  std::string privateKey;  // "-----BEGIN OPENSSH PRIVATE KEY-----" text; caller writes it 0600
  std::string publicKey;   // one authorized_keys line: "ssh-ed25519 AAAA... comment"
};

/// Generates a new Ed25519 host key with libssh. Fails with `internal` if libssh cannot.
core::Result<HostKeyFiles> generateHostKey(const std::string& comment);

/// SHA-256 fingerprint ("SHA256:...") of the public key in an OpenSSH private key file's text,
/// as `ssh-keygen -lf` prints it. Fails with `invalid_argument` if the text is not a key.
core::Result<std::string> hostKeyFingerprint(const std::string& privateKeyText);

}  // namespace conduit::ssh
