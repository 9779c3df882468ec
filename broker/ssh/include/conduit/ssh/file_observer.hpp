#pragma once

// What the SSH gateway learns about files from a channel's bytes as they pass: the interface
// of the sftp and scp observers (sftp_observer.hpp, scp_observer.hpp). An observer only reads;
// it never changes or holds back a byte. A stream it cannot follow ends its decoding, once,
// with the reason; the channel goes on and its bytes are still recorded.

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "conduit/recorder/record.hpp"

namespace conduit::ssh {

struct FileEvents {
  std::vector<recorder::FileTransferEvent> events;  // in the order they completed
  std::optional<std::string> stopped;               // set once, when decoding stops
};

class FileObserver {
 public:
  virtual ~FileObserver() = default;
  /// Bytes the vendor's client sent to the target, in order, any split.
  virtual void fromVendor(std::span<const unsigned char> bytes, FileEvents& out) = 0;
  /// Bytes the target sent back, in order, any split. Must come after the vendor's bytes they
  /// answer (the gateway passes the vendor's bytes on only after observing them).
  virtual void fromTarget(std::span<const unsigned char> bytes, FileEvents& out) = 0;
  /// The channel ended: transfers still under way are reported as they stand.
  virtual void finish(FileEvents& out) = 0;
};

}  // namespace conduit::ssh
