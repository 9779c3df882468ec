#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/result.hpp"
#include "conduit/recorder/reader.hpp"
#include "conduit/recorder/record.hpp"
#include "conduit/recorder/screen.hpp"

namespace conduit::recorder {

/// What an export wrote and whether the recording was complete.
struct ExportSummary {
  std::uint64_t recordsWritten = 0;  // events, packets or lines written
  std::uint64_t recordsSkipped = 0;  // records this format has no place for
  ReadStatus source;  // the reader's verdict: a truncated recording exports its prefix
};

/// Options for the asciicast export.
struct AsciicastOptions {
  std::optional<std::uint32_t> channel{};  // only this channel; all terminal channels if unset
  bool includeInput = true;                // "i" events for recorded keystrokes
  std::string title{};                     // defaults to the session id
  /// Start playback at this time (microseconds into the session): records before it only
  /// update a TerminalScreen, the cast opens with one event at 0 that clears the player and
  /// draws that screen, and later events are timed from `fromUs`.
  std::uint64_t fromUs = 0;
  /// The screen at the reader's position when it was moved there with RecordingReader::seek()
  /// (the keyframe from the seek index); a blank 80x24 screen if null.
  const TerminalScreen* startScreen = nullptr;
};

/// Writes asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a header line, then
/// [time, "o"|"i"|"r", data] events. Bytes that are not UTF-8 become U+FFFD; a UTF-8 sequence
/// split across records is joined first. With options.fromUs, see AsciicastOptions.
ExportSummary exportAsciicast(RecordingReader& reader, std::ostream& out,
                              const AsciicastOptions& options = {});

/// Writes tunnel_bytes records as a pcap file (LINKTYPE_ETHERNET) with synthesised
/// Ethernet/IPv4 (or IPv6)/TCP headers: one TCP connection per channel and 4-tuple, opened with
/// SYN, SYN-ACK, ACK, sequence numbers counted per direction, closed with FIN exchanges at the
/// end. Wireshark decodes the payload by port (e.g. Modbus/TCP on 502).
ExportSummary exportPcap(RecordingReader& reader, std::ostream& out);

/// Writes one JSON object per line: first the header ({"session_id", "started_unix_us",
/// "format_version"}), then every record {"t_us","channel","direction","kind","payload_b64"}.
ExportSummary exportJsonl(RecordingReader& reader, std::ostream& out);

/// Writes the session's file operations (file_transfer records) as one JSON document:
/// {"session_id", "files": [{"t_us","channel","direction","operation","path","size","sha256",
/// "detail"}]}, for the auditor's "which files moved" (the replay page, `--format files`).
/// Malformed file records are skipped.
ExportSummary exportFileEvents(RecordingReader& reader, std::ostream& out);

/// First bytes of a desktop export.
inline constexpr std::string_view kDesktopMagic = "CDSK1\n";

/// Writes the desktop of an RDP recording for the portal's player (docs/recording-format.md,
/// "Desktop export"): kDesktopMagic, then records `u64 LE time_us | u8 type | u32 LE length |
/// body`: 1 desktop size (u16 LE width, height), 2 tile (u16 LE x, y, width, height, u8 format
/// 1 PNG / 2 JPEG, image bytes), 3 frame end (u32 LE sequence, u8 keyframe 0|1), 4 marker
/// (UTF-8). Only channel 2 resize and rdp_update records and channel 0 markers are written;
/// keystrokes and everything else are skipped, as are malformed desktop records. Nothing is
/// written until the first tile or frame end. Returns invalid_argument "not an RDP recording"
/// (and writes nothing) if the readable part has no tile or frame end.
core::Result<ExportSummary> exportDesktop(RecordingReader& reader, std::ostream& out);

/// Options for the video export.
struct VideoOptions {
  unsigned framesPerSecond = 10;  // 1-60; the RDP worker sends at most about 20
};

/// Writes the desktop of an RDP recording as an uncompressed YUV4MPEG2 video (4:4:4, studio
/// range) for an encoder (`conduit recording export --format mp4` pipes it into ffmpeg): the
/// size of the first desktop size record, frames at a constant rate from the first frame end to
/// the recording's last record, each showing the screen after every frame end up to its time
/// (tiles decoded with libpng / libjpeg-turbo). Later size changes are not followed (tiles are
/// clipped); tiles that do not decode, or decode to another size than the tile's, are skipped.
/// Returns invalid_argument "not an RDP recording" (and writes nothing) without a size record and a
/// frame end.
core::Result<ExportSummary> exportVideo(RecordingReader& reader, std::ostream& out,
                                        const VideoOptions& options = {});

/// Reads from `reader` up to the first desktop tile or frame end; true if there is one (an RDP
/// recording), false at the end of the readable part. For checking before an audited export.
bool hasDesktop(RecordingReader& reader);

/// A line of terminal text and the time its first byte was recorded.
struct TextLine {
  std::uint64_t timeUs = 0;
  std::uint32_t channel = 0;
  std::string text;
};

/// Turns terminal bytes into plain text for a full-text index: ANSI/VT escape sequences (CSI,
/// OSC, DCS, charset selection) and control characters are dropped, backspace erases, CR LF
/// and lone CR end lines, invalid UTF-8 becomes U+FFFD. Feed records in order; state carries
/// across record boundaries per channel.
class TerminalTextExtractor {
 public:
  /// Output records are always used; input records only if `includeInput`; exec_command
  /// records and the lines of clipboard text that passed (protocol_event "clipboard",
  /// "allow") become lines of their own.
  explicit TerminalTextExtractor(bool includeInput = false);
  ~TerminalTextExtractor();
  TerminalTextExtractor(const TerminalTextExtractor&) = delete;
  TerminalTextExtractor& operator=(const TerminalTextExtractor&) = delete;

  /// Consumes one record (other kinds are ignored).
  void feed(const Record& record);
  /// Flushes unfinished lines and returns every non-empty line so far, in order.
  std::vector<TextLine> finish();

  struct State;

 private:
  std::unique_ptr<State> s_;
};

/// All terminal text of a recording, lines joined with '\n' (convenience over the extractor).
std::string extractTerminalText(RecordingReader& reader, bool includeInput = false);

/// A seek point and the terminal screen just before its first record: where a player can
/// start without the part of the recording before it.
struct Keyframe {
  SeekPoint point;
  std::string screen;  // TerminalScreen::serialize(); empty if no terminal output came before
};

/// What the database indexes about a sealed recording.
struct RecordingIndexEntries {
  std::vector<TextLine> lines;      // terminal text (keystrokes included) and commands
  std::vector<Keyframe> keyframes;  // one per segment, in file order
  ReadStatus source;                // the reader's verdict
};

/// Reads a recording once, from where `reader` is, for the full-text and seek indexes.
RecordingIndexEntries indexRecording(RecordingReader& reader);

}  // namespace conduit::recorder
