#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/access_limits.hpp"
#include "conduit/core/result.hpp"
#include "conduit/tunnel/mbap_framer.hpp"
#include "conduit/tunnel/modbus_protocol.hpp"
#include "conduit/tunnel/request_budget.hpp"

namespace conduit::tunnel {

/// Time as the caller read it: the inspector never reads a clock. A core::TimePoint converts.
using Instant = std::chrono::sys_time<std::chrono::microseconds>;

/// What a grant's Modbus scope says about one request, before the connection's state (holds,
/// requests in flight, draining) is considered.
struct ModbusVerdict {
  enum class Kind : std::uint8_t { allow, deny, hold };
  Kind kind = Kind::deny;
  ExceptionCode exception = ExceptionCode::illegal_function;  // the answer to a deny
  std::string reason;                                         // empty for a plain allow
};

/// Decides one request against a grant's Modbus scope. Checks in the order a Modbus server
/// does: the function code and its class (deny with 01), the PDU's own limits (03), then the unit
/// id and every address (02). Requests that change state are denied on read-only grants and
/// held where writes need approval. Never fails.
ModbusVerdict decideRequest(const core::ModbusOptions& options, std::uint8_t unit,
                            const ModbusRequest& request);

/// What the inspector did with a message. Stable names (decisionName) go into recordings.
enum class ModbusDecision : std::uint8_t {
  allow,      // request forwarded to the PLC
  deny,       // request answered by the broker with an exception; the PLC never saw it
  hold,       // request held until an engineer decides
  approved,   // held request approved and now forwarded
  rejected,   // held request refused by an engineer (exception 01)
  expired,    // held request or request in flight timed out (exception 0B)
  cancelled,  // held request refused because the session is ending (exception 06)
  forward,    // response forwarded to the client
  drop,       // response matching no request in flight, not forwarded
};
/// "allow", "deny", ... as in the enum.
std::string_view decisionName(ModbusDecision d) noexcept;

/// A decoded request or response and what was done with it: one per message, for the
/// recording (RecordKind protocol_event) and the audit trail.
struct ModbusEvent {
  enum class Message : std::uint8_t { request, response };
  Instant time;
  Message message = Message::request;
  std::uint16_t transaction = 0;
  std::uint8_t unit = 0;
  std::uint8_t function = 0;  // as sent; a response with 0x80 set carries `exception`
  std::optional<AddressBlock> read;
  std::optional<AddressBlock> write;
  std::vector<std::uint16_t> values;  // written (request) or read (response), bounded
  bool valuesTruncated = false;
  ModbusDecision decision = ModbusDecision::allow;
  std::optional<std::uint8_t> exception;  // answered by the broker, or sent by the PLC
  std::optional<std::uint64_t> hold;      // the hold this event belongs to
  std::string reason;
};

/// JSON for a protocol_event payload, e.g. {"protocol":"modbus","time_us":...,"message":
/// "request","transaction":7,"unit":1,"function":6,"function_name":"write single register",
/// "class":"write","address":100,"count":1,"values":[42],"decision":"deny","exception":1,
/// "reason":"..."}. "address"/"count" are the written block if any, else the read one; 23 adds
/// "read_address"/"read_count".
std::string toJson(const ModbusEvent& event);

/// A write waiting for an engineer's decision, with everything the engineer needs to see.
struct HeldRequest {
  std::uint64_t id = 0;
  std::uint16_t transaction = 0;
  std::uint8_t unit = 0;
  ModbusRequest request;  // complete values, not the event's bounded copy
  Instant heldAt;
  Instant deadline;  // answered with exception 0B if still undecided then
};
/// JSON for the approval view: {"hold":1,"unit":1,"function":16,"function_name":...,
/// "address":...,"count":...,"values":[...],"held_at_us":...,"deadline_us":...}.
std::string toJson(const HeldRequest& held);

/// The result of feeding the inspector: what the tunnel writes where, in this order.
struct InspectorOutput {
  std::vector<std::uint8_t> toServer;  // whole frames to forward to the PLC
  std::vector<std::uint8_t> toClient;  // whole frames for the client: responses, exceptions
  std::vector<ModbusEvent> events;
  std::vector<HeldRequest> held;     // newly held requests, to show to engineers
  std::optional<std::string> close;  // fatal: close after writing the bytes above
  bool drained = false;              // draining, and nothing held or in flight
};

/// Per-connection limits.
struct ModbusLimits {
  // 8: each held write waits for a person; more than a few at once is a tool running ahead of
  // its engineer, not work anyone can review.
  std::size_t maxHeld = 8;
  // 16: PLCs serve few outstanding requests (many handle 1-16 per connection); a tool with more
  // in flight is flooding, and each one is memory kept for a response.
  std::size_t maxInFlight = 16;
  // 120 s: time for an engineer to read a write and decide; vendor tools need a timeout at
  // least as long to see the answer.
  std::chrono::seconds holdTimeout{120};
  // 30 s: far beyond any healthy PLC's reply time; a stalled PLC must not keep a request (and the
  // end of a session) waiting for ever.
  std::chrono::seconds responseTimeout{30};
  // 125: one full register read; coil writes up to 1968 are cut in events (holds keep all).
  std::size_t maxEventValues = 125;
};

/// The Modbus/TCP inspector of one tunnel connection. Pure: the tunnel feeds it each
/// direction's bytes with the time it read them and writes what it returns. Requests are
/// decided by decideRequest; denied ones are answered here so the PLC never sees them; held ones
/// wait for resolveHold. Responses are matched to requests by transaction id.
class ModbusInspector {
 public:
  /// `budget`: the asset's requests per second, shared by its connections; null: unlimited.
  explicit ModbusInspector(core::ModbusOptions options, ModbusLimits limits = {},
                           std::shared_ptr<RequestBudget> budget = nullptr);

  /// Bytes from the client (the vendor's tool), in any split. Framing errors set `close`.
  InspectorOutput onClient(std::span<const std::uint8_t> bytes, Instant now);
  /// Bytes from the server (the PLC), in any split. Framing errors set `close`.
  InspectorOutput onServer(std::span<const std::uint8_t> bytes, Instant now);
  /// An engineer's decision on a held request: approved forwards its exact bytes (after any
  /// earlier held request, so writes reach the PLC in the order sent, and once fewer than
  /// maxInFlight requests wait for the PLC), refused answers
  /// exception 01. `by` names the engineer in the event. not_found if the hold is not waiting
  /// (already timed out, cancelled or decided).
  core::Result<InspectorOutput> resolveHold(std::uint64_t id, bool approved, Instant now,
                                            std::string_view by = {});
  /// Times out holds and requests in flight; call about once a second.
  InspectorOutput tick(Instant now);
  /// The session is ending: from now on requests that change state are refused (exception 06),
  /// undecided holds are cancelled (06), reads and requests in flight complete. `drained` is set
  /// in this and later outputs once nothing is held or in flight.
  InspectorOutput drainForEnd(Instant now);

  bool draining() const noexcept { return draining_; }
  bool drained() const noexcept { return draining_ && inFlight_.empty() && holds_.empty(); }
  std::size_t inFlight() const noexcept { return inFlight_.size(); }
  std::size_t held() const noexcept { return holds_.size(); }

 private:
  struct Pending {
    std::uint16_t transaction = 0;
    std::uint8_t unit = 0;
    ModbusRequest request;
    Instant sentAt;
    std::optional<std::uint64_t> hold;
  };
  struct Hold {
    HeldRequest info;
    std::vector<std::uint8_t> frame;  // the original bytes, forwarded unchanged if approved
    bool approved = false;
    std::string approvedBy;
  };

  void onRequest(const MbapFrame& frame, Instant now, InspectorOutput& out);
  void onResponse(const MbapFrame& frame, Instant now, InspectorOutput& out);
  void refuse(ModbusEvent event, ModbusDecision decision, ExceptionCode code, std::string reason,
              InspectorOutput& out) const;
  void forward(std::span<const std::uint8_t> frame, Pending pending, InspectorOutput& out);
  void expire(Instant now, InspectorOutput& out);
  void releaseApproved(Instant now, InspectorOutput& out);
  ModbusEvent requestEvent(std::uint16_t transaction, std::uint8_t unit,
                           const ModbusRequest& request, Instant now) const;
  void finish(InspectorOutput& out) const { out.drained = drained(); }

  core::ModbusOptions options_;
  ModbusLimits limits_;
  std::shared_ptr<RequestBudget> budget_;
  MbapFramer fromClient_;
  MbapFramer fromServer_;
  std::deque<Pending> inFlight_;
  std::deque<Hold> holds_;  // in arrival order
  std::uint64_t nextHold_ = 1;
  bool draining_ = false;
};

}  // namespace conduit::tunnel
