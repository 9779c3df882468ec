#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/result.hpp"

namespace conduit::tunnel {

// Classic S7comm (protocol id 0x32) as Siemens S7-300/400/1200/1500 CPUs speak it over
// ISO-on-TCP on port 102: TPKT (RFC 1006) carries COTP TPDUs (ISO 8073 class 0), whose data
// TPDUs carry S7 PDUs. No library frames or decodes S7 for us (Wireshark's dissector is
// GPL and not a library; snap7 and nodes7 are clients), so this is ours, written from RFC 1006,
// ISO 8073 and the S7 layout Wireshark's s7comm dissector documents, and checked against that
// dissector in tests/tunnel/s7_tshark_test.cpp. Everything here is pure: bytes in, values out.

// ---- TPKT (RFC 1006) ---------------------------------------------------------------------

/// TPKT header: version u8 (3), reserved u8, length u16 (the whole packet, header included).
inline constexpr std::size_t kTpktHeaderBytes = 4;
inline constexpr std::uint8_t kTpktVersion = 3;
/// Smallest TPKT length: the header and the smallest class 0 TPDU, a data TPDU header of 3
/// bytes (length indicator, code, EOT/number).
inline constexpr std::size_t kMinTpktLength = kTpktHeaderBytes + 3;
/// Largest TPKT length: the header and the largest TPDU ISO 8073 lets a connection negotiate
/// (TPDU size code 0x0D, 8192 bytes). S7 CPUs negotiate 1024 or less; a packet beyond any
/// negotiable size is not ISO-on-TCP, and the bound caps what a half-read packet holds.
inline constexpr std::size_t kMaxTpktLength = kTpktHeaderBytes + 8192;

// ---- COTP (ISO 8073 class 0) -------------------------------------------------------------

/// The class 0 TPDUs ISO-on-TCP uses. Expedited data, acknowledgements and rejects belong to
/// other classes; a peer sending them is not speaking ISO-on-TCP.
enum class CotpKind : std::uint8_t {
  connect_request,     // CR 0xE0
  connect_confirm,     // CC 0xD0
  disconnect_request,  // DR 0x80
  disconnect_confirm,  // DC 0xC0
  data,                // DT 0xF0
  error,               // ER 0x70
};
/// "CR", "CC", "DR", "DC", "DT", "ER".
std::string_view cotpKindName(CotpKind kind) noexcept;

/// One TPDU (a TPKT packet's payload).
struct CotpTpdu {
  CotpKind kind = CotpKind::data;
  bool lastDataUnit = true;            // DT: EOT set (the S7 PDU ends here)
  std::span<const std::uint8_t> data;  // DT: user data (a whole S7 PDU or a part of one)
  std::uint16_t dstRef = 0;            // CR, CC, DR, DC, ER
  std::uint16_t srcRef = 0;            // CR, CC, DR, DC
  // CR, CC: the parameters that say what is being reached (the called TSAP carries rack and
  // slot on S7 CPUs) and how large TPDUs may be.
  std::optional<std::size_t> tpduSize;
  std::vector<std::uint8_t> callingTsap;
  std::vector<std::uint8_t> calledTsap;
};

/// Decodes a TPDU. Fails (invalid_argument, with the reason) on a length indicator that does
/// not fit, a class other than 0, or a TPDU type class 0 does not use.
core::Result<CotpTpdu> decodeCotp(std::span<const std::uint8_t> tpdu);

// ---- S7 header ---------------------------------------------------------------------------

inline constexpr std::uint8_t kS7ProtocolId = 0x32;
/// S7comm-plus (S7-1200/1500 with TIA Portal): its own framing and integrity protection; not
/// inspected.
inline constexpr std::uint8_t kS7PlusProtocolId = 0x72;
/// Largest S7 PDU reassembled from data TPDUs. S7 CPUs negotiate PDUs of 240 to 960 bytes
/// (setup communication); 8192 leaves room for communication processors and simulators while
/// bounding what one message may hold.
inline constexpr std::size_t kMaxS7PduBytes = 8192;

/// The message type ("remote operating service control").
enum class Rosctr : std::uint8_t { job = 1, ack = 2, ack_data = 3, userdata = 7 };
/// "job", "ack", "ack_data", "userdata".
std::string_view rosctrName(Rosctr r) noexcept;

/// The header every S7 PDU starts with: protocol id, ROSCTR, reserved u16, PDU reference u16,
/// parameter length u16, data length u16, and for ack/ack_data an error class and code.
struct S7Header {
  Rosctr rosctr = Rosctr::job;
  std::uint16_t pduRef = 0;
  std::uint8_t errorClass = 0;  // ack, ack_data
  std::uint8_t errorCode = 0;
  std::span<const std::uint8_t> param;
  std::span<const std::uint8_t> data;
  std::uint16_t error() const noexcept {
    return static_cast<std::uint16_t>((errorClass << 8) | errorCode);
  }
};

/// Decodes the header of a whole S7 PDU. Fails (invalid_argument) unless the protocol id is
/// 0x32, the ROSCTR is known and the header, parameter and data lengths add up to the PDU.
core::Result<S7Header> decodeS7Header(std::span<const std::uint8_t> pdu);

// ---- Functions ---------------------------------------------------------------------------

/// Job function codes.
namespace s7fn {
inline constexpr std::uint8_t cpu_services = 0x00;
inline constexpr std::uint8_t read_var = 0x04;
inline constexpr std::uint8_t write_var = 0x05;
inline constexpr std::uint8_t request_download = 0x1A;
inline constexpr std::uint8_t download_block = 0x1B;
inline constexpr std::uint8_t download_ended = 0x1C;
inline constexpr std::uint8_t start_upload = 0x1D;
inline constexpr std::uint8_t upload = 0x1E;
inline constexpr std::uint8_t end_upload = 0x1F;
inline constexpr std::uint8_t plc_control = 0x28;  // PI service: start, insert/delete block, ...
inline constexpr std::uint8_t plc_stop = 0x29;
inline constexpr std::uint8_t setup_communication = 0xF0;
}  // namespace s7fn

/// How a request is treated by policy.
enum class S7Class : std::uint8_t {
  setup,        // 0xF0 setup communication: negotiates the PDU size, changes nothing
  read,         // 0x04 read var; userdata that only reads (block lists, SZL, clock)
  write,        // 0x05 write var; userdata that changes something (force, set clock, password)
  programming,  // 0x1A-0x1C download, 0x1D-0x1F upload
  control,      // 0x28 PLC control (PI service), 0x29 PLC stop
  other,        // 0x00 CPU services, undocumented codes, userdata groups nobody documented
};
/// "setup", "read", "write", "programming", "control", "other".
std::string_view s7ClassName(S7Class c) noexcept;
/// The class of a job function code.
S7Class jobFunctionClass(std::uint8_t function) noexcept;
/// A job function's name as Wireshark shows it, in lower case ("write var", "PLC stop");
/// "function" for codes nobody documented.
std::string_view jobFunctionName(std::uint8_t function) noexcept;

/// The function a userdata PDU carries, from its parameter head.
struct UserdataFunction {
  std::uint8_t type = 4;  // 0 push, 4 request, 8 response (NC programming: 3, 7, 0xB)
  std::uint8_t group = 0;
  std::uint8_t subfunction = 0;
  std::uint8_t sequence = 0;
  std::uint8_t dataUnitRef = 0;
  bool lastDataUnit = true;
  std::uint16_t errorCode = 0;  // responses
  bool operator==(const UserdataFunction&) const = default;
};
/// Userdata function groups.
namespace s7group {
inline constexpr std::uint8_t mode_transition = 0x0;
inline constexpr std::uint8_t programmer = 0x1;  // force, modify and monitor variables
inline constexpr std::uint8_t cyclic = 0x2;
inline constexpr std::uint8_t block = 0x3;
inline constexpr std::uint8_t cpu = 0x4;
inline constexpr std::uint8_t security = 0x5;
inline constexpr std::uint8_t pbc = 0x6;
inline constexpr std::uint8_t time = 0x7;
inline constexpr std::uint8_t nc = 0xF;
}  // namespace s7group
/// True for the request types (4, NC 7); 0/3 are pushes from the PLC, 8/0xB responses.
bool isUserdataRequest(std::uint8_t type) noexcept;
/// The class of a userdata function: read for the services that only read (list blocks, list
/// blocks of type, block info, read SZL, read clock), write for the other documented groups,
/// other for undocumented ones.
S7Class userdataClass(const UserdataFunction& f) noexcept;
/// E.g. "read SZL", "set clock", "block functions 9": the service, or the group and the
/// subfunction number where Wireshark names no service.
std::string userdataName(const UserdataFunction& f);

// ---- Messages ----------------------------------------------------------------------------

/// A variable a read var or write var job addresses (the S7ANY syntax, 0x10); other syntaxes
/// (symbolic, DB read, drive and NC addressing) keep only `syntax`.
struct S7Item {
  std::uint8_t syntax = 0x10;
  std::uint8_t transport = 0;  // BIT 1, BYTE 2, CHAR 3, WORD 4, INT 5, DWORD 6, ...
  std::uint16_t count = 0;
  std::uint16_t db = 0;
  std::uint8_t area = 0;      // I 0x81, Q 0x82, M 0x83, DB 0x84, DI 0x85, ...
  std::uint32_t address = 0;  // in bits: byte * 8 + bit
  bool operator==(const S7Item&) const = default;
};
/// "I", "Q", "M", "DB", ... for an area code; empty if unknown.
std::string_view s7AreaName(std::uint8_t area) noexcept;
/// "BIT", "BYTE", ... for an item's transport size; empty if unknown.
std::string_view s7TransportName(std::uint8_t transport) noexcept;

/// A value in the data part of write var jobs and read var responses.
struct S7DataItem {
  std::uint8_t returnCode = 0;  // 0xFF success in responses, 0 in write jobs
  std::uint8_t transport = 0;   // data transport size (3 bit, 4 byte/word/dword, 9 octets ...)
  std::vector<std::uint8_t> bytes;
  bool truncated = false;  // more bytes than the decoder was asked to keep
  bool operator==(const S7DataItem&) const = default;
};

/// A job or userdata PDU as the inspector understands it.
struct S7Request {
  Rosctr rosctr = Rosctr::job;
  std::uint16_t pduRef = 0;
  std::uint8_t function = 0;  // jobs
  bool hasFunction = false;   // a job whose parameter is empty has none
  std::optional<UserdataFunction> userdata;
  std::optional<std::uint8_t> itemCount;  // read var, write var
  std::vector<S7Item> items;
  std::vector<S7DataItem> values;        // write var
  std::optional<std::uint16_t> pduSize;  // setup communication
  // Why the parameter or data part breaks the protocol; answered with an error. Unset when
  // well-formed.
  std::optional<std::string> malformed;
};

/// Decodes a job or userdata PDU (the header must say so). Never fails: a PDU that breaks the
/// protocol comes back with `malformed` set. Values beyond `maxValueBytes` per item are cut.
S7Request decodeRequest(const S7Header& header, std::size_t maxValueBytes);

/// The class of a request: of its job function or of its userdata function.
S7Class requestClass(const S7Request& request) noexcept;
/// True for requests that can change the PLC's state: write var, download, PLC control and
/// stop, CPU services and unknown codes, and userdata other than the read services.
bool changesState(const S7Request& request) noexcept;

/// An ack, ack_data or userdata PDU from the PLC, decoded as far as events need.
struct S7Response {
  Rosctr rosctr = Rosctr::ack_data;
  std::uint16_t pduRef = 0;
  std::optional<std::uint8_t> function;  // ack_data: the function it answers
  std::optional<UserdataFunction> userdata;
  std::uint16_t error = 0;  // header error (class << 8 | code) or the userdata error code
  std::optional<std::uint8_t> itemCount;
  std::vector<S7DataItem> values;        // read var: one per item, with its return code
  std::optional<std::uint16_t> pduSize;  // setup communication: the PDU size granted
  std::optional<std::string> malformed;
};
/// Decodes a response PDU. Never fails; see `malformed`.
S7Response decodeResponse(const S7Header& header, std::size_t maxValueBytes);

// ---- Answers the broker sends ------------------------------------------------------------

/// Error codes the broker answers with, as Wireshark's s7comm dissector names them.
enum class S7Error : std::uint16_t {
  // "The function is not permitted in the current protection level": what a CPU itself
  // answers when its protection level forbids a function (snap7 reports it as "function not
  // authorized for current protection level"). A read-only grant is exactly such a level.
  not_permitted = 0xD241,
  // "Too few resources available or the processor resources are not available": too many
  // requests in flight, or the session is ending.
  no_resources = 0x8302,
  // "S7 protocol error: Wrong frames": the request breaks the protocol.
  wrong_frames = 0x8500,
  // "Alarm from the module: Service canceled prematurely": the PLC did not answer in time.
  cancelled = 0x8503,
};

/// The whole packet (TPKT, COTP DT, S7 PDU) a PLC sends to refuse `request` with `error`: for
/// a job an ack_data with the same PDU reference, the error in the header's class and code,
/// and a parameter echoing the function (with an item count of 0 for read/write var, and the
/// 8 bytes Wireshark expects for setup communication and start upload); for userdata a
/// userdata response for the same group, subfunction and sequence number with the error in
/// the parameter and an "access not allowed" data return code.
std::vector<std::uint8_t> errorReply(const S7Request& request, S7Error error);

}  // namespace conduit::tunnel
