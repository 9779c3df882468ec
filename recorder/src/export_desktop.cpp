#include <string>

#include "bytes.hpp"
#include "conduit/recorder/export.hpp"
#include "desktop_records.hpp"
#include "utf8.hpp"

namespace conduit::recorder {

namespace {

using detail::desktopUpdate;
using detail::kDesktopChannel;
using detail::kNoticeChannel;

// 1 MiB of notices and sizes before the first tile or frame end: an RDP session sends its first
// keyframe within seconds of its start records, so this is not a desktop recording; stop
// buffering rather than hold a terminal session's notices in memory.
constexpr std::size_t kMaxPendingBytes = std::size_t{1} << 20;

enum class DesktopRecord : std::uint8_t { size = 1, tile = 2, frame_end = 3, marker = 4 };

/// One record of the stream as header + body parts, so a tile's image is not copied.
class DesktopStream {
 public:
  explicit DesktopStream(std::ostream& out) : out_(out) {}

  /// Writes a record, or holds it until the first tile or frame end proves this a desktop
  /// recording. False once the held records exceed kMaxPendingBytes.
  bool put(std::uint64_t timeUs, DesktopRecord type, std::span<const unsigned char> head,
           std::span<const unsigned char> tail = {}) {
    std::vector<unsigned char> prefix;
    prefix.reserve(13 + head.size());
    detail::putU64Le(prefix, timeUs);
    prefix.push_back(static_cast<unsigned char>(type));
    detail::putU32Le(prefix, static_cast<std::uint32_t>(head.size() + tail.size()));
    prefix.insert(prefix.end(), head.begin(), head.end());
    if (!started_) {
      pending_.insert(pending_.end(), prefix.begin(), prefix.end());
      pending_.insert(pending_.end(), tail.begin(), tail.end());
      return pending_.size() <= kMaxPendingBytes;
    }
    write(prefix);
    write(tail);
    return true;
  }

  /// Writes the magic and the held records; later records go straight out.
  void start() {
    if (started_) return;
    started_ = true;
    out_ << kDesktopMagic;
    write(pending_);
    pending_.clear();
    pending_.shrink_to_fit();
  }

  bool started() const { return started_; }

 private:
  void write(std::span<const unsigned char> bytes) {
    out_.write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  }

  std::ostream& out_;
  bool started_ = false;
  std::vector<unsigned char> pending_;
};

}  // namespace

bool hasDesktop(RecordingReader& reader) {
  while (auto r = reader.next()) {
    if (desktopUpdate(*r)) return true;
  }
  return false;
}

core::Result<ExportSummary> exportDesktop(RecordingReader& reader, std::ostream& out) {
  ExportSummary summary;
  DesktopStream stream(out);
  std::vector<unsigned char> head;
  while (auto r = reader.next()) {
    head.clear();
    bool kept = true;
    if (r->channel == kDesktopChannel && r->kind == RecordKind::resize) {
      const auto size = decodeResize(r->payload);
      if (!size || size->columns > 0xffff || size->rows > 0xffff) {
        ++summary.recordsSkipped;
        continue;
      }
      detail::putU16Le(head, static_cast<std::uint16_t>(size->columns));
      detail::putU16Le(head, static_cast<std::uint16_t>(size->rows));
      kept = stream.put(r->timeUs, DesktopRecord::size, head);
    } else if (r->channel == kNoticeChannel && r->kind == RecordKind::marker) {
      std::string text;
      detail::Utf8Sanitizer utf8;
      utf8.feed(r->payload, text);
      utf8.finish(text);
      kept = stream.put(r->timeUs, DesktopRecord::marker, bytesOf(text));
    } else if (r->channel == kDesktopChannel && r->kind == RecordKind::protocol_event) {
      // Clipboard text becomes a notice the replay lists at its moment; keystrokes stay out.
      const auto event = decodeProtocolEvent(r->payload);
      if (!event || event->protocol != "clipboard") {
        ++summary.recordsSkipped;
        continue;
      }
      const bool pasted = r->direction == Direction::to_target;
      const std::string text = std::string(pasted ? "clipboard, pasted by the vendor"
                                                  : "clipboard, copied on the target") +
                               (event->decision == "allow" ? ": " : " (refused): ") +
                               event->summary;
      kept = stream.put(r->timeUs, DesktopRecord::marker, bytesOf(text));
    } else if (auto update = desktopUpdate(*r)) {
      stream.start();
      if (update->width == 0) {
        stream.put(r->timeUs, DesktopRecord::frame_end, update->pixels);
      } else {
        detail::putU16Le(head, update->x);
        detail::putU16Le(head, update->y);
        detail::putU16Le(head, update->width);
        detail::putU16Le(head, update->height);
        head.push_back(static_cast<unsigned char>(update->format));
        stream.put(r->timeUs, DesktopRecord::tile, head, update->pixels);
      }
    } else {
      ++summary.recordsSkipped;
      continue;
    }
    if (!kept) break;
    ++summary.recordsWritten;
  }
  summary.source = reader.status();
  if (!stream.started()) {
    if (summary.source.verdict == Verdict::intact) {
      return core::fail(core::ErrorCode::invalid_argument, "not an RDP recording");
    }
    return core::fail(core::ErrorCode::invalid_argument,
                      "not an RDP recording, or no desktop record is readable (" +
                          std::string(verdictName(summary.source.verdict)) +
                          (summary.source.message.empty() ? "" : ": " + summary.source.message) +
                          ")");
  }
  return summary;
}

}  // namespace conduit::recorder
