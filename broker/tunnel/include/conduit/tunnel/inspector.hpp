#pragma once

// The seam for protocol-aware tunnels (issue 8). A tunnel relay (the SSH gateway's `ssh -L`
// connections, the portal's WebSocket tunnels) passes every byte of a tunnel connection, in
// each direction, through the inspector chosen for the endpoint's protocol (modbus, s7; none
// for generic tcp: bytes then pass unchanged). An inspector frames the protocol, asks policy
// about each request and says what to do with it; the relay does the I/O, the recording and the
// flow control.
//
// Contract:
// - Pure: no I/O, no clock reads (the relay passes the time), no threads, no blocking. It runs
//   on the relay's thread. It keeps what state it needs (a partial frame, requests in flight).
// - One instance per TCP connection; it sees the connection's bytes in order, each direction
//   in the order they arrived, and does not outlive the connection.
// - Whatever it is given is consumed: bytes it holds (an incomplete frame, a write waiting for
//   approval) are its own until it forwards, answers or drops them. It bounds what it holds
//   and asks to close when a peer sends more than a frame can be.
// - Time-based work (a request that timed out, a held write an engineer decided) is returned
//   from onTick, which the relay calls about once a second. Nothing ever waits in a call.
// - An exception (e.g. bad_alloc) closes the connection; the relay catches it.
// - The recording holds what crossed the broker: `toTarget` as sent to the target, `toClient`
//   as sent to the vendor's client, `events` as protocol_event records. A refused request
//   therefore appears as its event and the broker's answer, never as bytes to the target.
// - Graceful end (issue 8 item 5): when the session is about to end the relay calls drain();
//   from then on the inspector refuses requests that change state, lets requests in flight
//   finish, and reports drained() once nothing is in flight; the relay then closes (or after
//   its drain period, whichever comes first).

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace conduit::tunnel {

/// A decoded message and what was done with it, for the recording (RecordKind
/// protocol_event: protocol, decision, summary).
struct InspectorEvent {
  std::string protocol;  // "modbus", "s7"
  std::string decision;  // "allow", "deny", "hold", ...
  std::string summary;   // one JSON object describing the message (see docs/tunnels.md)
};

/// What the relay does after an inspector call, in this order: sends `toTarget` and
/// `toClient`, records `events`, then (if set) closes the connection once both are delivered.
/// For bytes from the client, `toTarget` is "forward" and `toClient` "reply" (e.g. a Modbus
/// exception response for a refused request); for bytes from the target, the other way round.
struct TunnelVerdict {
  std::vector<unsigned char> toTarget;
  std::vector<unsigned char> toClient;
  std::vector<InspectorEvent> events;
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
  /// The session is ending: refuse new state changes, let requests in flight finish.
  virtual TunnelVerdict drain(TimePoint now) {
    (void)now;
    return {};
  }
  /// After drain(): nothing is held or in flight any more, the relay may close.
  virtual bool drained() const { return true; }
};

}  // namespace conduit::tunnel
