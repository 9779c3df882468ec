#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace conduit::tunnel {

// Modbus/TCP as the Modbus Application Protocol Specification v1.1b3 and the Messaging on TCP/IP
// Implementation Guide v1.0b define it. Everything here is pure: bytes in, values out.

/// MBAP header: transaction id u16, protocol id u16 (0), length u16 (unit id + PDU), unit id u8.
inline constexpr std::size_t kMbapHeaderBytes = 7;
/// A PDU (function code + data) is at most 253 bytes: the serial line ADU limit of 256 minus the
/// address and CRC, which Modbus/TCP keeps so that gateways can pass frames through.
inline constexpr std::size_t kMaxPduBytes = 253;
/// Smallest MBAP length: the unit id and a function code.
inline constexpr std::uint16_t kMinMbapLength = 2;
/// Largest MBAP length: the unit id and the largest PDU.
inline constexpr std::uint16_t kMaxMbapLength = 1 + kMaxPduBytes;
/// A whole frame: the 6 bytes before the length's coverage plus the largest length.
inline constexpr std::size_t kMaxFrameBytes = 6 + kMaxMbapLength;

/// How a function code is treated by policy.
enum class FunctionClass : std::uint8_t {
  read,         // 1, 2, 3, 4: reads of coils and registers, with addresses checked against ranges
  write,        // 5, 6, 15, 16, 21, 22, 23: change outputs or registers (23 also reads)
  diagnostics,  // 7, 8, 11, 12, 17, 43: device and line diagnostics; 8 can restart or silence it
  other,        // programming, file and FIFO access, vendor (e.g. 65-72, 90 UMAS, 100-110) and
                // unknown codes
};

/// The class of a function code.
FunctionClass functionClass(std::uint8_t function) noexcept;
/// "read", "write", "diagnostics" or "other".
std::string_view functionClassName(FunctionClass c) noexcept;
/// The specification's name of a function, e.g. "read holding registers"; "function" for codes
/// it does not name.
std::string_view functionName(std::uint8_t function) noexcept;

/// Exception codes a Modbus server (here: the broker on the PLC's behalf) answers with.
enum class ExceptionCode : std::uint8_t {
  illegal_function = 0x01,
  illegal_data_address = 0x02,
  illegal_data_value = 0x03,
  server_device_failure = 0x04,
  server_busy = 0x06,
  gateway_path_unavailable = 0x0A,
  gateway_target_failed = 0x0B,
};

/// A run of `count` coils or registers starting at `address`.
struct AddressBlock {
  std::uint16_t address = 0;
  std::uint16_t count = 0;
  bool operator==(const AddressBlock&) const = default;
};

/// A request PDU as the inspector understands it.
struct ModbusRequest {
  std::uint8_t function = 0;
  std::optional<AddressBlock> read;   // functions 1-4 and the read part of 23
  std::optional<AddressBlock> write;  // functions 5, 6, 15, 16, 22 and the write part of 23
  // Written values: coils as 0/1, registers as numbers; 22 has {AND mask, OR mask}. Complete
  // (at most 1968 coils or 123 registers), so an engineer approving a write sees all of it.
  std::vector<std::uint16_t> values;
  std::optional<std::uint16_t> subFunction;  // 8: the sub-function; 43: the MEI type
  // Why the PDU breaks the specification (quantity out of its limits, byte count that does not
  // match, wrong length); answered with exception 03. Unset when well-formed.
  std::optional<std::string> malformed;
  bool operator==(const ModbusRequest&) const = default;
};

/// Decodes a request PDU (function code first). Never fails: a PDU that breaks the
/// specification comes back with `malformed` set. Codes it does not know come back with only
/// `function`.
ModbusRequest decodeRequest(std::span<const std::uint8_t> pdu);

/// True for requests that can change the state of the device: every write, diagnostics (8: it
/// can restart communications or force listen-only mode) and encapsulated interface transport
/// other than read device identification (43 with MEI type 14).
bool changesState(const ModbusRequest& request) noexcept;

/// A response PDU decoded against the request it answers.
struct ModbusResponse {
  std::uint8_t function = 0;  // as sent, with 0x80 set on an exception
  std::optional<std::uint8_t> exception;
  std::vector<std::uint16_t> values;  // values read (coils 0/1) or echoed by a write
  bool valuesTruncated = false;       // more values than asked for were in the PDU
  std::optional<std::string> malformed;
};

/// Decodes a response PDU to `request` (whose function it must carry, possibly with 0x80 set:
/// the caller checks that). Values beyond `maxValues` are not decoded.
ModbusResponse decodeResponse(std::span<const std::uint8_t> pdu, const ModbusRequest& request,
                              std::size_t maxValues);

/// The 9-byte exception response a server sends for a request: the same transaction id and
/// unit id, the function code with 0x80 set, and the exception code.
std::array<std::uint8_t, 9> exceptionFrame(std::uint16_t transaction, std::uint8_t unit,
                                           std::uint8_t function, ExceptionCode code) noexcept;

}  // namespace conduit::tunnel
