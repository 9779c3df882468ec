#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace conduit::recorder {

/// What a record holds. The numeric values are stored in files: never renumber.
enum class RecordKind : std::uint8_t {
  terminal_output = 1,  // bytes the target's terminal sent to the client
  terminal_input = 2,   // keystrokes from the client (only where policy allows)
  resize = 3,           // terminal size: encodeResize()
  exec_command = 4,     // the command line of an exec request, UTF-8
  file_transfer = 5,    // an sftp/scp event: encodeFileTransfer()
  tunnel_bytes = 6,     // bytes through a TCP tunnel with its 4-tuple: encodeTunnelPrefix()
  protocol_event = 7,   // a decoded protocol request and the decision: encodeProtocolEvent()
  rdp_update = 8,       // a changed screen tile: encodeRdpTile()
  marker = 9,           // a notice or bookmark (session start, warning, kill), UTF-8
};
inline constexpr std::size_t kRecordKindCount = 9;

/// Who sent the bytes. Stored in files: never renumber.
enum class Direction : std::uint8_t { to_client = 1, to_target = 2, none = 3 };

/// One recorded event. `timeUs` counts microseconds since the recording started.
struct Record {
  std::uint64_t timeUs = 0;
  std::uint32_t channel = 0;
  Direction direction = Direction::none;
  RecordKind kind = RecordKind::marker;
  std::vector<unsigned char> payload;

  bool operator==(const Record&) const = default;
};

/// Stable name of a kind ("terminal_output"); "unknown" for values outside the enum.
std::string_view recordKindName(RecordKind kind) noexcept;
/// Stable name of a direction ("to_client").
std::string_view directionName(Direction direction) noexcept;
/// Kind from its stored byte; nullopt if the value is not a known kind.
std::optional<RecordKind> recordKindFromByte(std::uint8_t value) noexcept;
/// Direction from its stored byte; nullopt if unknown.
std::optional<Direction> directionFromByte(std::uint8_t value) noexcept;
/// Index 0..kRecordKindCount-1 of a kind, for per-kind counters.
inline std::size_t kindIndex(RecordKind kind) noexcept {
  return static_cast<std::size_t>(kind) - 1;
}

/// Copies text into a payload.
std::vector<unsigned char> bytesOf(std::string_view text);
/// Views a payload as text (no validation).
std::string_view textOf(std::span<const unsigned char> payload) noexcept;

// ---- resize ------------------------------------------------------------------------------

/// A terminal size in character cells.
struct TerminalSize {
  std::uint32_t columns = 80;
  std::uint32_t rows = 24;
  bool operator==(const TerminalSize&) const = default;
};
/// Resize payload: columns u32 LE, rows u32 LE (8 bytes).
std::vector<unsigned char> encodeResize(TerminalSize size);
/// Parses a resize payload; nullopt unless exactly 8 bytes.
std::optional<TerminalSize> decodeResize(std::span<const unsigned char> payload) noexcept;

// ---- tunnel bytes ------------------------------------------------------------------------

/// A TCP connection as seen by the broker: client (the side that opened it) and target.
/// IPv4 addresses use the first 4 bytes of `address`.
struct TcpFourTuple {
  bool ipv6 = false;
  std::array<unsigned char, 16> clientAddress{};
  std::uint16_t clientPort = 0;
  std::array<unsigned char, 16> targetAddress{};
  std::uint16_t targetPort = 0;
  bool operator==(const TcpFourTuple&) const = default;
};
/// Builds an IPv4 4-tuple from dotted quads; nullopt if an address does not parse.
std::optional<TcpFourTuple> ipv4Tuple(std::string_view client, std::uint16_t clientPort,
                                      std::string_view target, std::uint16_t targetPort);

/// The encoded 4-tuple that starts every tunnel_bytes payload (13 bytes for IPv4, 37 for IPv6):
/// family u8 (4|6), client address, client port u16 BE, target address, target port u16 BE.
struct TunnelPrefix {
  std::array<unsigned char, 37> bytes{};
  std::size_t size = 0;
  std::span<const unsigned char> view() const noexcept { return {bytes.data(), size}; }
};
/// Encodes the prefix for a tuple.
TunnelPrefix encodeTunnelPrefix(const TcpFourTuple& tuple) noexcept;
/// A whole tunnel_bytes payload (prefix + bytes). Writers should prefer
/// RecordingWriter::appendTunnelBytes, which avoids this copy.
std::vector<unsigned char> encodeTunnelBytes(const TcpFourTuple& tuple,
                                             std::span<const unsigned char> bytes);
/// A parsed tunnel_bytes payload; `bytes` points into the payload.
struct TunnelChunk {
  TcpFourTuple tuple;
  std::span<const unsigned char> bytes;
};
/// Parses a tunnel_bytes payload; nullopt if the prefix is malformed.
std::optional<TunnelChunk> decodeTunnelBytes(std::span<const unsigned char> payload) noexcept;

// ---- file transfer ------------------------------------------------------------------------

/// What happened to a file.
enum class FileOperation : std::uint8_t {
  upload = 1,
  download = 2,
  remove = 3,
  rename = 4,
  make_directory = 5,
  set_attributes = 6,
  link = 7,   // a symbolic or hard link: `detail` names what it points to
  print = 8,  // a document the target printed (RDP printer redirection), as the vendor got it
};
/// An sftp/scp event. `detail` holds e.g. the new name of a rename, an error, or why there is
/// no SHA-256.
struct FileTransferEvent {
  FileOperation operation = FileOperation::upload;
  std::uint64_t size = 0;  // bytes moved (0 if not applicable)
  std::string path;
  std::string detail;
  std::string sha256;  // of the bytes moved, lowercase hex; empty where not known
  bool operator==(const FileTransferEvent&) const = default;
};
/// The name an operation has in exports ("upload", "make_directory", ...).
std::string_view fileOperationName(FileOperation operation) noexcept;
/// Payload: operation u8, size u64 LE, path (u16 LE length + UTF-8), detail (u16 LE length +
/// UTF-8), sha256 (u8 length + lowercase hex: 0 or 64). Strings longer than 65535 bytes are
/// cut.
std::vector<unsigned char> encodeFileTransfer(const FileTransferEvent& event);
/// Parses a file_transfer payload; nullopt if malformed.
std::optional<FileTransferEvent> decodeFileTransfer(std::span<const unsigned char> payload);
/// The event's JSON members, without braces: "operation","path","size","sha256","detail" (as in
/// the jsonl and files exports).
std::string fileTransferJsonFields(const FileTransferEvent& event);
/// The live view's message for a file operation, {"type":"file",...} (docs/api.md), the same
/// for SSH (sftp, scp) and RDP (the session's drive).
std::string liveFileJson(const FileTransferEvent& event);

// ---- protocol event -----------------------------------------------------------------------

/// A decoded protocol request and what the inspector decided, e.g. {"modbus", "allow",
/// "read holding registers 16..17 unit 1"}.
struct ProtocolEvent {
  std::string protocol;
  std::string decision;
  std::string summary;
  bool operator==(const ProtocolEvent&) const = default;
};
/// Payload: protocol (u8 length + ASCII), decision (u8 length + ASCII), summary (u16 LE length
/// + UTF-8). Longer strings are cut.
std::vector<unsigned char> encodeProtocolEvent(const ProtocolEvent& event);
/// Parses a protocol_event payload; nullopt if malformed.
std::optional<ProtocolEvent> decodeProtocolEvent(std::span<const unsigned char> payload);

// ---- RDP tile -----------------------------------------------------------------------------

/// A changed rectangle of the remote screen; `pixels` are in `format` (e.g. 32-bit BGRX,
/// possibly compressed by the RDP module: the recorder stores them as given).
struct RdpTile {
  std::uint16_t x = 0;
  std::uint16_t y = 0;
  std::uint16_t width = 0;
  std::uint16_t height = 0;
  std::uint32_t format = 0;
  std::vector<unsigned char> pixels;
  bool operator==(const RdpTile&) const = default;
};
/// Payload: x, y, width, height (u16 LE each), format u32 LE, then the pixel bytes.
std::vector<unsigned char> encodeRdpTile(const RdpTile& tile);
/// Parses an rdp_update payload; nullopt if shorter than its 12-byte header.
std::optional<RdpTile> decodeRdpTile(std::span<const unsigned char> payload);

}  // namespace conduit::recorder
