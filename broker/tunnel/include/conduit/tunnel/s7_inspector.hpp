#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/access_limits.hpp"
#include "conduit/tunnel/s7_framer.hpp"
#include "conduit/tunnel/s7_protocol.hpp"

namespace conduit::tunnel {

/// Time as the caller read it: the inspector never reads a clock. (The same alias as
/// modbus_inspector.hpp's; repeating it keeps this header standalone.)
using Instant = std::chrono::sys_time<std::chrono::microseconds>;

/// What a grant's S7 scope says about one request, before the connection's state (requests
/// in flight, draining) is considered.
struct S7Verdict {
  bool allow = false;
  S7Error error = S7Error::not_permitted;  // the answer to a deny
  std::string reason;                      // empty for a plain allow
};

/// Decides one request from the client against a grant's S7 scope: the function first (setup
/// communication always; listed functions only where the grant lists some; else reads, uploads
/// and, unless read-only, write var), then the PDU's own form. Requests that can change the
/// PLC's state are denied on read-only grants whatever the list says. Userdata that only
/// reads (block lists and info, SZL, clock) is allowed on every grant; other userdata only on
/// grants that are not read-only and list no functions. Never fails.
S7Verdict decideRequest(const core::S7Options& options, const S7Request& request);

/// What the inspector did with a message. Stable names (decisionName) go into recordings.
enum class S7Decision : std::uint8_t {
  allow,    // request forwarded (to the PLC; for a job of the PLC's, to the client)
  deny,     // request answered by the broker with an error; the other side never saw it
  expired,  // request in flight not answered in time; the broker answered with an error
  forward,  // response, push or connection TPDU forwarded
  drop,     // response matching no request in flight, not forwarded
};
/// "allow", "deny", ... as in the enum.
std::string_view decisionName(S7Decision d) noexcept;

/// A decoded message and what was done with it: one per COTP connection TPDU and per S7 PDU,
/// for the recording (RecordKind protocol_event) and the audit trail.
struct S7Event {
  enum class Message : std::uint8_t {
    connection,  // COTP CR, CC, DR, DC, ER
    request,     // job or userdata request
    response,    // ack, ack_data, userdata response
    push,        // userdata the PLC sends unasked (alarms, cyclic data)
  };
  Instant time;
  Message message = Message::request;
  bool fromPlc = false;
  // Connection TPDUs.
  std::optional<CotpKind> cotp;
  std::optional<std::size_t> tpduSize;
  std::vector<std::uint8_t> callingTsap;
  std::vector<std::uint8_t> calledTsap;
  // S7 PDUs. A response carries its request's function and items.
  Rosctr rosctr = Rosctr::job;
  std::uint16_t pduRef = 0;
  std::optional<std::uint8_t> function;
  std::optional<UserdataFunction> userdata;
  std::optional<std::uint8_t> itemCount;
  std::vector<S7Item> items;       // bounded (S7Limits::maxEventItems)
  std::vector<S7DataItem> values;  // written (request) or read (response), bounded
  bool itemsTruncated = false;     // more items or values than the bound
  std::optional<std::uint16_t> pduSize;
  std::optional<std::uint16_t> error;  // answered by the broker, or sent by the PLC
  S7Decision decision = S7Decision::forward;
  std::string reason;
};

/// JSON for a protocol_event payload, e.g. {"protocol":"s7","time_us":...,"message":
/// "request","origin":"client","rosctr":"job","pdu_ref":3,"function":5,"function_name":
/// "write var","class":"write","item_count":1,"items":[{"area":"DB","db":1,"byte":0,"bit":0,
/// "transport":"BYTE","count":2}],"values":[{"return_code":0,"transport":4,"hex":"1234"}],
/// "decision":"deny","error":"0xD241","reason":"..."} (see docs/tunnels.md).
std::string toJson(const S7Event& event);

/// The result of feeding the inspector: what the tunnel writes where, in this order.
struct S7InspectorOutput {
  std::vector<std::uint8_t> toServer;  // whole TPKT packets for the PLC
  std::vector<std::uint8_t> toClient;  // whole TPKT packets for the client
  std::vector<S7Event> events;
  std::optional<std::string> close;  // fatal: close after writing the bytes above
  bool drained = false;              // draining, and nothing in flight
};

/// Per-connection limits.
struct S7Limits {
  // 16: setup communication negotiates how many jobs may be outstanding ("max AmQ"), and S7
  // CPUs keep that in single digits; a client with more in flight ignores the negotiation and
  // is flooding, and each one is memory kept for a response.
  std::size_t maxInFlight = 16;
  // 60 s: a few S7 services (copy RAM to ROM, compress memory) answer only when done, which
  // takes seconds on large CPUs; a stalled PLC must still not keep a request (and the end of a
  // session) waiting for ever.
  std::chrono::seconds responseTimeout{60};
  // 20: S7 CPUs accept about 20 variables per read/write var job; events keep that many items
  // and values, the PLC gets everything.
  std::size_t maxEventItems = 20;
  // 64 bytes per value in events: enough for any scalar and a short string or array; bulk
  // reads (whole DBs) are cut in the recording's events, never in the tunnel.
  std::size_t maxValueBytes = 64;
};

/// The S7comm inspector of one tunnel connection. Pure: the tunnel feeds it each direction's
/// bytes with the time it read them and writes what it returns. COTP connection TPDUs pass;
/// requests (jobs and userdata) are decided by decideRequest, and denied ones are answered here
/// with an S7 error so the PLC never sees them. Responses are matched to requests by PDU
/// reference. During a download the PLC sends jobs of its own (download block, download
/// ended): those pass to the client while a download the client asked for is open, and
/// everything else the PLC asks is refused on the client's behalf.
class S7Inspector {
 public:
  explicit S7Inspector(core::S7Options options, S7Limits limits = {});

  /// Bytes from the client (the vendor's tool), in any split. Protocol errors set `close`.
  S7InspectorOutput onClient(std::span<const std::uint8_t> bytes, Instant now);
  /// Bytes from the server (the PLC), in any split. Protocol errors set `close`.
  S7InspectorOutput onServer(std::span<const std::uint8_t> bytes, Instant now);
  /// Times out requests in flight; call about once a second.
  S7InspectorOutput tick(Instant now);
  /// The session is ending: from now on requests that can change state are refused (0x8302),
  /// reads, requests in flight and an open download complete. `drained` is set in this and
  /// later outputs once nothing is in flight.
  S7InspectorOutput drainForEnd(Instant now);

  bool draining() const noexcept { return draining_; }
  bool drained() const noexcept {
    return draining_ && clientJobs_.empty() && plcJobs_.empty() && !downloadOpen_;
  }
  /// Requests of the client's waiting for the PLC.
  std::size_t inFlight() const noexcept { return clientJobs_.size(); }
  /// Jobs of the PLC's (download steps) waiting for the client.
  std::size_t plcJobsInFlight() const noexcept { return plcJobs_.size(); }
  /// A download the client asked for was accepted by the PLC and has not ended.
  bool downloadOpen() const noexcept { return downloadOpen_; }

 private:
  struct Pending {
    S7Request request;  // items bounded, values dropped: what events and refusals need
    Instant sentAt;
  };
  // Data TPDUs of one S7 PDU until the one with EOT (ISO 8073 segmentation).
  struct Segments {
    std::vector<std::uint8_t> packets;  // forwarded unchanged if the PDU passes
    std::vector<std::uint8_t> pdu;
  };
  enum class Side : std::uint8_t { client, plc };

  void onPacket(Side side, const TpktFrame& frame, Instant now, S7InspectorOutput& out);
  void onPdu(Side side, Instant now, S7InspectorOutput& out);
  void onClientRequest(std::span<const std::uint8_t> packets, const S7Header& header, Instant now,
                       S7InspectorOutput& out);
  void onPlcRequest(std::span<const std::uint8_t> packets, const S7Header& header, Instant now,
                    S7InspectorOutput& out);
  void onAnswer(Side from, std::span<const std::uint8_t> packets, const S7Header& header,
                Instant now, S7InspectorOutput& out);
  void refuse(Side asker, S7Event event, const S7Request& request, S7Decision decision,
              S7Error error, std::string reason, S7InspectorOutput& out) const;
  void expire(Instant now, S7InspectorOutput& out);
  void fail(std::string reason);
  S7Event requestEvent(const S7Request& request, bool fromPlc, Instant now) const;
  Pending pending(S7Request request, Instant now) const;
  S7InspectorOutput finish(S7InspectorOutput out) const;

  core::S7Options options_;
  S7Limits limits_;
  TpktFramer fromClient_;
  TpktFramer fromPlc_;
  Segments clientSegments_;
  Segments plcSegments_;
  std::deque<Pending> clientJobs_;  // the client's requests, waiting for the PLC
  std::deque<Pending> plcJobs_;     // the PLC's download steps, waiting for the client
  bool downloadOpen_ = false;
  Instant downloadActivity_{};  // the last step of the open download
  bool draining_ = false;
  std::optional<std::string> failure_;
};

}  // namespace conduit::tunnel
