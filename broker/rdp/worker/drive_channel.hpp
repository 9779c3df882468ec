#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

struct rdp_context;
struct rdp_freerdp;
struct rdp_settings;

namespace conduit::rdp::worker {

/// Drive redirection for one session (rdpdr, MS-RDPEFS): the directory the broker made for
/// the session is offered to the target as one drive, served by FreeRDP's own drive device.
/// Nothing else of rdpdr opens (no printers, ports or smartcards). With an empty path the
/// channel opens with no device at all: Windows plays sound (rdpsnd) only to clients that
/// have rdpdr open (MS-RDPEA 2.1; FreeRDP's own client opens it with sound too).
class DriveChannel {
 public:
  explicit DriveChannel(std::string path) : path_(std::move(path)) {}

  /// Names the drive in the settings, if there is one (before connect).
  bool configure(rdp_settings* settings) const;
  /// Loads the rdpdr static channel so the connection asks the server for it (PreConnect).
  static bool load(rdp_context* context);

  /// Server-to-client channel data passes through here before FreeRDP's own handler.
  ///
  /// Why: xrdp 0.9 (Debian 12's) sends "user logged on" before its capabilities; FreeRDP
  /// 2.11 drops a "user logged on" that comes before the capabilities announced it, and then
  /// announces no drive at all (it names drives only after the logon). A logon PDU that
  /// comes too early is held back here and handed on right after the server's client-id
  /// confirm, the order Windows servers use. Every other byte passes unchanged, in order.
  /// Returns what FreeRDP's handler returned.
  bool receive(rdp_freerdp* instance, std::uint16_t channelId, const std::uint8_t* data,
               std::size_t size, std::uint32_t flags, std::size_t totalSize);

 private:
  std::string path_;
  bool confirmed_ = false;  // the server's client-id confirm has passed
  std::vector<std::uint8_t> heldLogon_;
};

}  // namespace conduit::rdp::worker
