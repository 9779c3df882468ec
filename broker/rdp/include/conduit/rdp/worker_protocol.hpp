#pragma once

// The framing between the broker and its RDP worker processes (docs/rdp.md "Worker protocol").
//
// Each RDP session's FreeRDP client runs in its own worker process (conduit-rdp-worker), so a
// hostile RDP server that breaks FreeRDP reaches only that process: no vault, no database, no
// other session. The two talk over one socketpair (SOCK_STREAM) in frames:
//
//   u32 LE length (of type + body, 1..kMaxFrameBytes) | u8 type | body
//
// Broker -> worker: connect (once, first), key, pointer, ack, refresh, close, clipboard.
// Worker -> broker: connected (once), tile*, frame_end, target_clipboard, audio, print_data,
// print_end, failed / closed (last). The clipboard messages exist only where the connect
// request allowed the clipboard, audio only where it allowed audio, print only where it allowed
// the printer.
// Tiles and frame ends go on unchanged to the browser (the WebSocket message is the frame
// without its length) and into the recording, after the broker checked them (decodeTile).
//
// Written by hand: no library frames a byte stream this small; every field is bounds-checked
// and the decoders are fuzzed (tests/fuzz/rdp_protocol_fuzz.cpp).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/result.hpp"

namespace conduit::rdp {

using Bytes = std::vector<std::uint8_t>;

/// 32 MiB: a 4096x2160 tile as barely-compressible PNG is ~35 MB raw; the worker splits the
/// screen in tiles of at most 256x256 (256 KiB raw), so real frames stay far below this. A
/// frame above it is a broken or hostile peer.
inline constexpr std::uint32_t kMaxFrameBytes = 32u << 20;
/// Desktop sizes the broker asks for and accepts: 200x200 to 4096x2160 (DCI 4K).
inline constexpr int kMinDesktop = 200;
inline constexpr int kMaxDesktopWidth = 4096;
inline constexpr int kMaxDesktopHeight = 2160;

enum class MessageType : std::uint8_t {
  // broker -> worker
  connect = 0x01,    // ConnectRequest: JSON parameters, then the password's bytes
  key = 0x02,        // u8 down (0/1), u16 LE RDP scancode (0x100 set: extended key)
  pointer = 0x03,    // u16 LE RDP pointer flags (PTR_FLAGS_*), u16 LE x, u16 LE y
  ack = 0x04,        // u32 LE: the browser drew every frame up to this sequence number
  refresh = 0x05,    // empty: send the whole screen as the next frame (a keyframe)
  close = 0x06,      // empty: disconnect and exit
  clipboard = 0x07,  // UTF-8 text the vendor copied: offered as the target's clipboard
  // worker -> broker
  connected = 0x81,         // JSON {"width", "height", "certificate_sha256"}
  tile = 0x82,              // Tile
  frame_end = 0x83,         // u32 LE sequence number, u8 keyframe (0/1)
  failed = 0x84,            // JSON {"code", "message"}: the session could not start or broke
  closed = 0x85,            // JSON {"code", "message"}: the server ended the session
  target_clipboard = 0x86,  // UTF-8 text copied on the target (its clipboard changed)
  audio = 0x87,             // AudioChunk: sound the target played
  print_data = 0x88,        // PrintData: the next bytes of a document the target printed
  print_end = 0x89,         // PrintEnd: that document is complete
};

/// One frame read from the stream (type and body; the length is gone).
struct Frame {
  MessageType type{};
  Bytes body;
};

/// Splits a byte stream into frames. Holds at most one partial frame.
class FrameReader {
 public:
  /// Appends bytes and returns every whole frame now available, in order. A length of 0 or
  /// above kMaxFrameBytes, or an unknown type, is an error: the stream cannot be trusted after
  /// it (the caller ends the session).
  core::Result<std::vector<Frame>> feed(std::span<const std::uint8_t> bytes);
  std::size_t buffered() const noexcept { return buffer_.size(); }

 private:
  Bytes buffer_;
};

/// A whole frame (length, type, body) ready to write.
Bytes encodeFrame(MessageType type, std::span<const std::uint8_t> body);

// ---- broker -> worker ---------------------------------------------------------------------

enum class Security { any, nla, tls };

/// What the worker connects to, as whom, and what it lets through. The password travels in the
/// same frame after the JSON; both sides wipe their copies after use.
struct ConnectRequest {
  std::string host;
  std::uint16_t port = 3389;
  std::string username;
  std::string domain;
  // SHA-256 of the server certificate's DER, 64 lowercase hex digits: the connection is refused
  // unless the server presents exactly this certificate. Empty: refused as well (the broker
  // never connects unpinned), except when `learnCertificate` (an admin's explicit trust on
  // first use), which connects, reports the fingerprint in `connected` and sends no frames.
  std::string certificateSha256;
  bool learnCertificate = false;
  int width = 1024;
  int height = 768;
  Security security = Security::any;
  // Redirection channels: off unless policy allows. Audio input, USB, smartcards and file
  // clipboard are never opened.
  bool clipboard = false;
  // Drive redirection: the worker offers `drivePath` (a directory the broker made for this
  // session, absolute) to the target as a drive named kDriveName. Required when `drive`.
  bool drive = false;
  std::string drivePath;
  // Printer redirection: the worker offers the target a printer named kPrinterName (driver
  // kPrinterDriver, which makes Windows send PostScript); what the target prints comes back as
  // print_data and print_end frames.
  bool printer = false;
  bool audio = false;
  int connectTimeoutMs = 15000;
  // Seconds between full-screen keyframes (replay seeks to them). 0: only on refresh.
  int keyframeSeconds = 30;
};
/// The name the target shows the session's drive under (at most 7 ASCII characters: RDP
/// device names are 8 bytes with a NUL).
inline constexpr std::string_view kDriveName = "Conduit";
/// 256 MiB: the largest file the drive takes from the vendor or lets the target write (the
/// worker's RLIMIT_FSIZE); firmware images and PLC projects fit, a disk image does not.
inline constexpr std::uint64_t kMaxDriveFileBytes = 256ull << 20;
/// The printer the target sees, and the Windows driver it is announced with: "MS Publisher
/// Imagesetter" is a PostScript driver every Windows has in the box (what Apache Guacamole
/// announces too), so the spooler sends PostScript, which the broker turns into PDF.
inline constexpr std::string_view kPrinterName = "Conduit PDF";
inline constexpr std::string_view kPrinterDriver = "MS Publisher Imagesetter";

/// The connect frame; `password` is copied into it (wipe the result after writing it).
Bytes encodeConnect(const ConnectRequest& request, std::span<const std::uint8_t> password);
/// Parses a connect body; `password` receives the password's bytes (wipe after use).
core::Result<ConnectRequest> decodeConnect(std::span<const std::uint8_t> body, Bytes& password);

struct KeyEvent {
  bool down = false;
  std::uint16_t scancode = 0;  // 0x01..0xFF, | 0x100 for extended keys
};
Bytes encodeKey(const KeyEvent& key);
/// invalid_argument for a scancode outside 1..0x1FF or a short body.
core::Result<KeyEvent> decodeKey(std::span<const std::uint8_t> body);

/// RDP pointer flags (MS-RDPBCGR 2.2.8.1.1.3.1.1.3) the browser may send; others are refused.
inline constexpr std::uint16_t kPtrWheelNegative = 0x0100;
inline constexpr std::uint16_t kPtrWheel = 0x0200;
inline constexpr std::uint16_t kPtrMove = 0x0800;
inline constexpr std::uint16_t kPtrDown = 0x8000;
inline constexpr std::uint16_t kPtrButton1 = 0x1000;       // left
inline constexpr std::uint16_t kPtrButton2 = 0x2000;       // right
inline constexpr std::uint16_t kPtrButton3 = 0x4000;       // middle
inline constexpr std::uint16_t kPtrRotationMask = 0x01FF;  // wheel: rotation units and sign
struct PointerEvent {
  std::uint16_t flags = kPtrMove;
  std::uint16_t x = 0;
  std::uint16_t y = 0;
};
Bytes encodePointer(const PointerEvent& pointer);
/// invalid_argument for flags outside the list above or a short body.
core::Result<PointerEvent> decodePointer(std::span<const std::uint8_t> body);

Bytes encodeAck(std::uint32_t sequence);
core::Result<std::uint32_t> decodeAck(std::span<const std::uint8_t> body);

// ---- both ways: clipboard text ------------------------------------------------------------

/// 65,535 bytes of UTF-8: a configuration snippet or a short script, and what one recording
/// event holds whole (recorder::encodeProtocolEvent's summary). Longer text is refused, never
/// cut: a half-pasted command is worse than none.
inline constexpr std::size_t kMaxClipboardBytes = 65535;
/// A clipboard or target_clipboard frame.
Bytes encodeClipboard(MessageType type, std::string_view utf8);
/// invalid_argument unless the body is valid UTF-8 (no overlongs, surrogates or code points
/// above U+10FFFF) of at most kMaxClipboardBytes.
core::Result<std::string> decodeClipboard(std::span<const std::uint8_t> body);
/// True for valid UTF-8 as decodeClipboard defines it.
bool isValidUtf8(std::string_view text);

// ---- worker -> broker ---------------------------------------------------------------------

struct Connected {
  int width = 0;
  int height = 0;
  std::string certificateSha256;
};
Bytes encodeConnected(const Connected& connected);
core::Result<Connected> decodeConnected(std::span<const std::uint8_t> body);

enum class TileFormat : std::uint8_t { png = 1, jpeg = 2 };

/// A changed rectangle of the desktop, encoded as an image of exactly width x height pixels.
/// Body: u16 LE x, y, width, height, u8 format, then the image bytes.
struct Tile {
  std::uint16_t x = 0;
  std::uint16_t y = 0;
  std::uint16_t width = 0;
  std::uint16_t height = 0;
  TileFormat format = TileFormat::png;
  Bytes image;
};
inline constexpr std::size_t kTileHeaderBytes = 9;
Bytes encodeTile(const Tile& tile);
/// invalid_argument unless the rectangle is non-empty and inside a desktop of the given size,
/// the format is known and the image starts with that format's signature.
core::Result<Tile> decodeTile(std::span<const std::uint8_t> body, int desktopWidth,
                              int desktopHeight);

struct FrameEnd {
  std::uint32_t sequence = 0;
  bool keyframe = false;  // the frame's tiles cover the whole desktop
};
Bytes encodeFrameEnd(const FrameEnd& end);
core::Result<FrameEnd> decodeFrameEnd(std::span<const std::uint8_t> body);

/// Why a session did not start or ended. `code`: "credentials" (the target refused the
/// account or password), "certificate" (not the pinned certificate), "unreachable" (host down,
/// refused, timed out), "protocol" (the server broke the protocol), "server" (the server ended
/// the session), "internal".
struct Failure {
  std::string code;
  std::string message;  // one line fit for the vendor; never a credential
};
Bytes encodeFailure(MessageType type, const Failure& failure);
core::Result<Failure> decodeFailure(std::span<const std::uint8_t> body);

/// Sound the target played (RDP audio output, MS-RDPEA), as the worker's audio device got it:
/// signed 16-bit little-endian PCM, channels interleaved. Body: u32 LE samples per second, u8
/// channels, then the samples. The browser plays it as it comes; it is not recorded.
struct AudioChunk {
  std::uint32_t rate = 44100;  // kMinAudioRate..kMaxAudioRate
  std::uint8_t channels = 2;   // 1 or 2
  Bytes pcm;                   // whole sample frames (channels * 2 bytes each), non-empty
};
inline constexpr std::uint32_t kMinAudioRate = 8000;
inline constexpr std::uint32_t kMaxAudioRate = 48000;
inline constexpr std::size_t kAudioHeaderBytes = 5;
/// 256 KiB of samples per chunk (about 1.5 s of 44.1 kHz stereo): RDP servers send a few
/// KiB at a time; the worker cuts longer pieces.
inline constexpr std::size_t kMaxAudioChunkBytes = 256u << 10;
Bytes encodeAudio(const AudioChunk& chunk);
/// invalid_argument unless the rate and channels are in range and the samples are whole frames
/// (non-empty, at most kMaxAudioChunkBytes).
core::Result<AudioChunk> decodeAudio(std::span<const std::uint8_t> body);

/// A piece of a document the target printed, in order. Body: u32 LE job id (the worker's
/// number for the document), then 1..kMaxPrintChunkBytes bytes.
struct PrintData {
  std::uint32_t job = 0;
  Bytes bytes;
};
inline constexpr std::size_t kMaxPrintChunkBytes = 1u << 20;
/// 32 MiB: the largest document the worker passes on (a few pages of an HMI's screens as
/// PostScript are well under 10 MiB); past it the rest is dropped and print_end says so.
inline constexpr std::uint64_t kMaxPrintJobBytes = 32ull << 20;
/// Documents printing at once (a spooler sends one at a time per printer); the worker refuses
/// more to the target, the broker ends a session whose worker sends more.
inline constexpr std::size_t kMaxPrintJobsAtOnce = 4;
Bytes encodePrintData(const PrintData& data);
/// invalid_argument for an empty or oversized piece.
core::Result<PrintData> decodePrintData(std::span<const std::uint8_t> body);

/// The document is complete. Body: u32 LE job id, u8 status.
struct PrintEnd {
  std::uint32_t job = 0;
  bool truncated = false;  // over kMaxPrintJobBytes: what came before is not the whole document
};
Bytes encodePrintEnd(const PrintEnd& end);
core::Result<PrintEnd> decodePrintEnd(std::span<const std::uint8_t> body);

}  // namespace conduit::rdp
