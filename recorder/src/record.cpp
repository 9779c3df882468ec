#include "conduit/recorder/record.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "bytes.hpp"

namespace conduit::recorder {

using detail::Cursor;

std::string_view recordKindName(RecordKind kind) noexcept {
  switch (kind) {
    case RecordKind::terminal_output:
      return "terminal_output";
    case RecordKind::terminal_input:
      return "terminal_input";
    case RecordKind::resize:
      return "resize";
    case RecordKind::exec_command:
      return "exec_command";
    case RecordKind::file_transfer:
      return "file_transfer";
    case RecordKind::tunnel_bytes:
      return "tunnel_bytes";
    case RecordKind::protocol_event:
      return "protocol_event";
    case RecordKind::rdp_update:
      return "rdp_update";
    case RecordKind::marker:
      return "marker";
  }
  return "unknown";
}

std::string_view directionName(Direction direction) noexcept {
  switch (direction) {
    case Direction::to_client:
      return "to_client";
    case Direction::to_target:
      return "to_target";
    case Direction::none:
      return "none";
  }
  return "unknown";
}

std::optional<RecordKind> recordKindFromByte(std::uint8_t value) noexcept {
  if (value < 1 || value > kRecordKindCount) return std::nullopt;
  return static_cast<RecordKind>(value);
}

std::optional<Direction> directionFromByte(std::uint8_t value) noexcept {
  if (value < 1 || value > 3) return std::nullopt;
  return static_cast<Direction>(value);
}

std::vector<unsigned char> bytesOf(std::string_view text) {
  return {text.begin(), text.end()};
}

std::string_view textOf(std::span<const unsigned char> payload) noexcept {
  return {reinterpret_cast<const char*>(payload.data()), payload.size()};
}

std::vector<unsigned char> encodeResize(TerminalSize size) {
  std::vector<unsigned char> out;
  detail::putU32Le(out, size.columns);
  detail::putU32Le(out, size.rows);
  return out;
}

std::optional<TerminalSize> decodeResize(std::span<const unsigned char> payload) noexcept {
  if (payload.size() != 8) return std::nullopt;
  return TerminalSize{detail::loadU32Le(payload.data()), detail::loadU32Le(payload.data() + 4)};
}

std::optional<TcpFourTuple> ipv4Tuple(std::string_view client, std::uint16_t clientPort,
                                      std::string_view target, std::uint16_t targetPort) {
  TcpFourTuple t;
  const std::string c(client);
  const std::string d(target);
  if (::inet_pton(AF_INET, c.c_str(), t.clientAddress.data()) != 1) return std::nullopt;
  if (::inet_pton(AF_INET, d.c_str(), t.targetAddress.data()) != 1) return std::nullopt;
  t.clientPort = clientPort;
  t.targetPort = targetPort;
  return t;
}

TunnelPrefix encodeTunnelPrefix(const TcpFourTuple& tuple) noexcept {
  TunnelPrefix p;
  const std::size_t alen = tuple.ipv6 ? 16 : 4;
  auto* o = p.bytes.data();
  *o++ = tuple.ipv6 ? 6 : 4;
  std::memcpy(o, tuple.clientAddress.data(), alen);
  o += alen;
  *o++ = static_cast<unsigned char>(tuple.clientPort >> 8);
  *o++ = static_cast<unsigned char>(tuple.clientPort & 0xff);
  std::memcpy(o, tuple.targetAddress.data(), alen);
  o += alen;
  *o++ = static_cast<unsigned char>(tuple.targetPort >> 8);
  *o++ = static_cast<unsigned char>(tuple.targetPort & 0xff);
  p.size = static_cast<std::size_t>(o - p.bytes.data());
  return p;
}

std::vector<unsigned char> encodeTunnelBytes(const TcpFourTuple& tuple,
                                             std::span<const unsigned char> bytes) {
  const auto prefix = encodeTunnelPrefix(tuple);
  std::vector<unsigned char> out(prefix.view().begin(), prefix.view().end());
  out.insert(out.end(), bytes.begin(), bytes.end());
  return out;
}

std::optional<TunnelChunk> decodeTunnelBytes(std::span<const unsigned char> payload) noexcept {
  Cursor c(payload);
  TunnelChunk chunk;
  const auto family = c.u8();
  if (family != 4 && family != 6) return std::nullopt;
  chunk.tuple.ipv6 = family == 6;
  const std::size_t alen = chunk.tuple.ipv6 ? 16 : 4;
  auto a = c.take(alen);
  if (!a.empty()) std::copy(a.begin(), a.end(), chunk.tuple.clientAddress.begin());
  chunk.tuple.clientPort = c.u16Be();
  auto b = c.take(alen);
  if (!b.empty()) std::copy(b.begin(), b.end(), chunk.tuple.targetAddress.begin());
  chunk.tuple.targetPort = c.u16Be();
  if (c.failed()) return std::nullopt;
  chunk.bytes = payload.subspan(c.position());
  return chunk;
}

namespace {
void putString16(std::vector<unsigned char>& out, std::string_view s) {
  const auto n = std::min<std::size_t>(s.size(), 0xffff);
  detail::putU16Le(out, static_cast<std::uint16_t>(n));
  out.insert(out.end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
}
void putString8(std::vector<unsigned char>& out, std::string_view s) {
  const auto n = std::min<std::size_t>(s.size(), 0xff);
  out.push_back(static_cast<unsigned char>(n));
  out.insert(out.end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
}
}  // namespace

std::vector<unsigned char> encodeFileTransfer(const FileTransferEvent& event) {
  std::vector<unsigned char> out;
  out.push_back(static_cast<unsigned char>(event.operation));
  detail::putU64Le(out, event.size);
  putString16(out, event.path);
  putString16(out, event.detail);
  putString8(out, event.sha256.size() == 64 ? std::string_view(event.sha256) : std::string_view());
  return out;
}

std::string fileTransferJsonFields(const FileTransferEvent& f) {
  return "\"operation\":\"" + std::string(fileOperationName(f.operation)) +
         "\",\"path\":" + detail::jsonString(f.path) + ",\"size\":" + std::to_string(f.size) +
         ",\"sha256\":" + detail::jsonString(f.sha256) +
         ",\"detail\":" + detail::jsonString(f.detail);
}

std::string liveFileJson(const FileTransferEvent& event) {
  return "{\"type\":\"file\"," + fileTransferJsonFields(event) + "}";
}

std::string_view fileOperationName(FileOperation operation) noexcept {
  switch (operation) {
    case FileOperation::upload:
      return "upload";
    case FileOperation::download:
      return "download";
    case FileOperation::remove:
      return "remove";
    case FileOperation::rename:
      return "rename";
    case FileOperation::make_directory:
      return "make_directory";
    case FileOperation::set_attributes:
      return "set_attributes";
    case FileOperation::link:
      return "link";
    case FileOperation::print:
      return "print";
  }
  return "unknown";
}

std::optional<FileTransferEvent> decodeFileTransfer(std::span<const unsigned char> payload) {
  Cursor c(payload);
  FileTransferEvent e;
  const auto op = c.u8();
  if (op < 1 || op > 8) return std::nullopt;
  e.operation = static_cast<FileOperation>(op);
  e.size = c.u64Le();
  e.path = c.string(c.u16Le());
  e.detail = c.string(c.u16Le());
  // Recordings written before file events carried a SHA-256 end after the detail.
  if (!c.failed() && c.remaining() > 0) e.sha256 = c.string(c.u8());
  if (c.failed() || c.remaining() != 0) return std::nullopt;
  if (!e.sha256.empty() && (e.sha256.size() != 64 ||
                            e.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)) {
    return std::nullopt;
  }
  return e;
}

std::vector<unsigned char> encodeProtocolEvent(const ProtocolEvent& event) {
  std::vector<unsigned char> out;
  putString8(out, event.protocol);
  putString8(out, event.decision);
  putString16(out, event.summary);
  return out;
}

std::optional<ProtocolEvent> decodeProtocolEvent(std::span<const unsigned char> payload) {
  Cursor c(payload);
  ProtocolEvent e;
  e.protocol = c.string(c.u8());
  e.decision = c.string(c.u8());
  e.summary = c.string(c.u16Le());
  if (c.failed() || c.remaining() != 0) return std::nullopt;
  return e;
}

std::vector<unsigned char> encodeRdpTile(const RdpTile& tile) {
  std::vector<unsigned char> out;
  out.reserve(12 + tile.pixels.size());
  detail::putU16Le(out, tile.x);
  detail::putU16Le(out, tile.y);
  detail::putU16Le(out, tile.width);
  detail::putU16Le(out, tile.height);
  detail::putU32Le(out, tile.format);
  out.insert(out.end(), tile.pixels.begin(), tile.pixels.end());
  return out;
}

std::optional<RdpTile> decodeRdpTile(std::span<const unsigned char> payload) {
  Cursor c(payload);
  RdpTile t;
  t.x = c.u16Le();
  t.y = c.u16Le();
  t.width = c.u16Le();
  t.height = c.u16Le();
  t.format = c.u32Le();
  if (c.failed()) return std::nullopt;
  auto rest = payload.subspan(c.position());
  t.pixels.assign(rest.begin(), rest.end());
  return t;
}

namespace detail {
std::string jsonString(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
  return out;
}
}  // namespace detail

}  // namespace conduit::recorder
