#pragma once

// What the sftp and scp observers share: file names made fit for the recording, and SHA-256
// of the bytes of a transfer as they pass.

#include <openssl/evp.h>

#include <span>
#include <string>
#include <string_view>

namespace conduit::ssh {

/// A path as the recording shows it: valid UTF-8, with control characters, backslashes and
/// bytes that are not UTF-8 as \xNN (a file name is bytes to SFTP and scp; the recording's
/// strings are text), cut after 4 KiB (PATH_MAX) with "...(cut)": the recording names a
/// file, it does not store a megabyte of name.
std::string printablePath(std::string_view raw);
/// A path built from printable parts, cut the same way (after 4 KiB, never inside a character).
std::string cutPath(std::string path);

/// SHA-256 over bytes added in order (OpenSSL: SHA-NI where the CPU has it).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  /// False once hashing failed (then hex() is empty).
  bool add(std::span<const unsigned char> bytes);
  /// The digest in lowercase hex; empty if hashing failed. Call once.
  std::string hex();

 private:
  EVP_MD_CTX* md_;
  bool ok_;
};

}  // namespace conduit::ssh
