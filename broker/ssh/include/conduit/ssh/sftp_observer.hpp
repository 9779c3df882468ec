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
// It only reads; it never changes or holds back a byte. A stream it cannot follow (a packet
// over the limit, a malformed one, too many requests in flight) ends the decoding, once, with
// the reason; the channel goes on and its bytes are still recorded.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "conduit/recorder/record.hpp"

namespace conduit::ssh {

class SftpObserver {
 public:
  struct Output {
    std::vector<recorder::FileTransferEvent> events;  // in the order they completed
    std::optional<std::string> stopped;               // set once, when decoding stops
  };

  SftpObserver();
  ~SftpObserver();
  SftpObserver(const SftpObserver&) = delete;
  SftpObserver& operator=(const SftpObserver&) = delete;

  /// Bytes the vendor's client sent to the target's sftp server, in order, any split.
  void fromVendor(std::span<const unsigned char> bytes, Output& out);
  /// Bytes the target's sftp server sent back, in order, any split. Must come after the
  /// requests they answer (the gateway passes a request on only after observing it).
  void fromTarget(std::span<const unsigned char> bytes, Output& out);
  /// The channel ended: files still open are reported as they stand ("not closed").
  void finish(Output& out);

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace conduit::ssh
