#pragma once

// The seam for protocol-aware tunnels (issue 8). The gateway's tunnel relay (`ssh -L`) passes
// every byte of a tunnel connection, in each direction, through the inspector that
// GatewayBackend::openTunnel chose for the endpoint's protocol (none yet: bytes then pass
// unchanged). An inspector frames the protocol, asks policy about each request and says what
// to do with it; the relay does the I/O, the recording and the flow control.
//
// Contract:
// - Pure: no I/O, no clock reads (the relay passes the time), no threads, no blocking. It runs
//   on the session's thread inside the relay loop. It keeps what state it needs (a partial
//   frame, requests in flight).
// - One instance per TCP connection; it sees the connection's bytes in order, each direction
//   in the order they arrived, and does not outlive the connection.
// - Whatever it is given is consumed: bytes it holds (an incomplete frame, a write waiting for
//   approval) are its own until it forwards, answers or drops them. It bounds what it holds
//   and asks to close when a peer sends more than a frame can be.
// - Time-based work (a request that timed out, a held write an engineer approved) is returned
//   from onTick, which the relay calls about once a second. Nothing ever waits in a call.
// - An exception (e.g. bad_alloc) closes the connection; the relay catches it before it could
//   reach libssh's C callbacks.
// - The recording holds what crossed the broker: `toTarget` as sent to the target, `toClient`
//   as sent to the vendor's client, `events` as protocol_event records. A refused request
//   therefore appears as its event and the broker's answer, never as bytes to the target.
// - Not yet: a graceful drain at the session's end (issue 8 item 5); the relay closes
//   connections when the session ends.

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "conduit/recorder/record.hpp"

namespace conduit::ssh {

/// What the relay does after an inspector call, in this order: sends `toTarget` and
/// `toClient`, records `events`, then (if set) closes the connection once both are delivered.
/// For bytes from the client, `toTarget` is "forward" and `toClient` "reply" (e.g. a Modbus
/// exception response for a refused request); for bytes from the target, the other way round.
struct TunnelVerdict {
  std::vector<unsigned char> toTarget;
  std::vector<unsigned char> toClient;
  /// Decoded messages and their decisions, for the recording.
  std::vector<recorder::ProtocolEvent> events;
  /// Set: end this connection with this reason (one line, audited; e.g. "modbus: protocol
  /// id 7 is not Modbus/TCP").
  std::optional<std::string> close;
};

/// Inspects one tunnel connection (see the contract above).
class TunnelInspector {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  virtual ~TunnelInspector() = default;
  /// Bytes the vendor's client sent toward the target, read at `now`.
  virtual TunnelVerdict onClientBytes(std::span<const unsigned char> bytes, TimePoint now) = 0;
  /// Bytes the target sent toward the vendor's client, read at `now`.
  virtual TunnelVerdict onServerBytes(std::span<const unsigned char> bytes, TimePoint now) = 0;
  /// About once a second: timeouts, held requests decided meanwhile.
  virtual TunnelVerdict onTick(TimePoint now) {
    (void)now;
    return {};
  }
};

}  // namespace conduit::ssh
