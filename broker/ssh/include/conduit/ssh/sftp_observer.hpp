#pragma once

// Follows an sftp channel's two byte streams as they pass through the gateway and says what
// happened to which file: uploads and downloads with the bytes moved and their SHA-256,
// removals, renames, links, new directories and attribute changes, each with the target's
// answer. The recording holds the raw bytes too; this is what lets an auditor answer "which
// files did the vendor put on the HMI" without decoding SFTP by hand.
//
// SFTP version 3 (draft-ietf-secsh-filexfer-02, what OpenSSH speaks, and what OpenSSH's scp
// uses since 9.0) plus OpenSSH's extensions that touch files. Written by hand: no library
// decodes SFTP passively (libssh's sftp code is a client or a server that owns the channel).
// Stops on a packet over the limit, a malformed one, or too many requests in flight.

#include <memory>

#include "conduit/ssh/file_observer.hpp"

namespace conduit::ssh {

class SftpObserver final : public FileObserver {
 public:
  using Output = FileEvents;

  SftpObserver();
  ~SftpObserver() override;
  SftpObserver(const SftpObserver&) = delete;
  SftpObserver& operator=(const SftpObserver&) = delete;

  void fromVendor(std::span<const unsigned char> bytes, FileEvents& out) override;
  void fromTarget(std::span<const unsigned char> bytes, FileEvents& out) override;
  /// Files still open are reported as they stand ("not closed (the channel ended)").
  void finish(FileEvents& out) override;

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace conduit::ssh
