#include <algorithm>
#include <string>

#include "conduit/recorder/export.hpp"
#include "desktop_records.hpp"
#include "tile_image.hpp"

namespace conduit::recorder {

namespace {

// Larger than any desktop the RDP worker opens (4096x2160): a size record beyond it is not ours.
// It also keeps width * height * 3 far below 2^32 (libpng's PNG_IMAGE_SIZE is 32-bit).
constexpr std::uint32_t kMaxSide = 8192;

/// The desktop as the viewer saw it, and its frames for YUV4MPEG2.
class VideoCanvas {
 public:
  VideoCanvas(std::uint32_t width, std::uint32_t height)
      : width_(width),
        height_(height),
        rgb_(static_cast<std::size_t>(width) * height * 3, 0),
        yuv_(static_cast<std::size_t>(width) * height * 3) {}

  /// Draws a decoded tile at (x, y), clipped to the desktop.
  void draw(std::uint32_t x, std::uint32_t y, const detail::RgbImage& image) {
    if (x >= width_ || y >= height_) return;
    const std::uint32_t w = std::min(image.width, width_ - x);
    const std::uint32_t h = std::min(image.height, height_ - y);
    for (std::uint32_t row = 0; row < h; ++row) {
      const auto* from = image.rgb.data() + static_cast<std::size_t>(row) * image.width * 3;
      auto* to = rgb_.data() + (static_cast<std::size_t>(y + row) * width_ + x) * 3;
      std::copy_n(from, static_cast<std::size_t>(w) * 3, to);
    }
    changed_ = true;
  }

  /// Writes one frame: "FRAME\n" and the Y, Cb and Cr planes (4:4:4).
  void writeFrame(std::ostream& out) {
    if (changed_) convert();
    out << "FRAME\n";
    out.write(reinterpret_cast<const char*>(yuv_.data()),
              static_cast<std::streamsize>(yuv_.size()));
  }

 private:
  // RGB to Y'CbCr, ITU-R BT.601 with studio range (what a YUV4MPEG2 reader assumes). Written
  // out because it is three lines of integer arithmetic; the encoder's scaler takes it from
  // there. Only when the desktop changed: an idle minute repeats the same planes.
  void convert() {
    const std::size_t n = static_cast<std::size_t>(width_) * height_;
    unsigned char* yp = yuv_.data();
    unsigned char* up = yp + n;
    unsigned char* vp = up + n;
    for (std::size_t i = 0; i < n; ++i) {
      const int r = rgb_[i * 3], g = rgb_[i * 3 + 1], b = rgb_[i * 3 + 2];
      yp[i] = static_cast<unsigned char>(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16);
      up[i] = static_cast<unsigned char>(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128);
      vp[i] = static_cast<unsigned char>(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128);
    }
    changed_ = false;
  }

  std::uint32_t width_;
  std::uint32_t height_;
  std::vector<unsigned char> rgb_;
  std::vector<unsigned char> yuv_;
  bool changed_ = true;
};

}  // namespace

core::Result<ExportSummary> exportVideo(RecordingReader& reader, std::ostream& out,
                                        const VideoOptions& options) {
  if (options.framesPerSecond < 1 || options.framesPerSecond > 60) {
    return core::fail(core::ErrorCode::invalid_argument, "frames per second must be 1 to 60");
  }
  const std::uint64_t intervalUs = 1'000'000 / options.framesPerSecond;
  ExportSummary summary;
  std::optional<VideoCanvas> canvas;
  std::uint32_t width = 0, height = 0;
  std::vector<RdpTile> pending;  // the tiles of the frame being received
  bool started = false;
  std::uint64_t nextUs = 0;  // the next video frame's time in the recording
  std::uint64_t lastUs = 0;
  auto emitBefore = [&](std::uint64_t t, bool inclusive) {
    while (out && (nextUs < t || (inclusive && nextUs == t))) {
      canvas->writeFrame(out);
      ++summary.recordsWritten;
      nextUs += intervalUs;
    }
  };
  const auto writeFailed = [] {
    return core::fail(core::ErrorCode::io, "the video could not be written (its reader stopped)");
  };
  while (auto r = reader.next()) {
    lastUs = r->timeUs;
    if (r->channel == detail::kDesktopChannel && r->kind == RecordKind::resize && !canvas) {
      const auto size = decodeResize(r->payload);
      if (!size || size->columns == 0 || size->rows == 0 || size->columns > kMaxSide ||
          size->rows > kMaxSide) {
        ++summary.recordsSkipped;
        continue;
      }
      width = size->columns;
      height = size->rows;
      canvas.emplace(width, height);
      continue;
    }
    auto update = detail::desktopUpdate(*r);
    if (!update || !canvas) {
      ++summary.recordsSkipped;  // keystrokes, notices, later sizes (the video keeps its size)
      continue;
    }
    if (!detail::isFrameEnd(*update)) {
      pending.push_back(std::move(*update));
      continue;
    }
    if (!started) {
      started = true;
      nextUs = r->timeUs;
      out << "YUV4MPEG2 W" << width << " H" << height << " F" << options.framesPerSecond
          << ":1 Ip A1:1 C444\n";
    } else {
      emitBefore(r->timeUs, false);  // frames before this one show the screen before it
    }
    for (const auto& tile : pending) {
      auto image = detail::decodeTile(static_cast<std::uint8_t>(tile.format), tile.pixels,
                                      static_cast<std::size_t>(width) * height);
      // An image of another size than its tile says is not what the broker checked: skipped.
      if (!image || image->width != tile.width || image->height != tile.height) {
        ++summary.recordsSkipped;
        continue;
      }
      canvas->draw(tile.x, tile.y, *image);
    }
    pending.clear();
    if (!out) return writeFailed();  // the encoder is gone: stop reading
  }
  summary.source = reader.status();
  if (!started) {
    const bool intact = summary.source.verdict == Verdict::intact;
    return core::fail(core::ErrorCode::invalid_argument,
                      intact ? std::string("not an RDP recording")
                             : "not an RDP recording, or no desktop frame is readable (" +
                                   std::string(verdictName(summary.source.verdict)) + ")");
  }
  // Up to the recording's last record: nextUs starts at a record's time, so at least one frame.
  emitBefore(lastUs, true);
  if (!out) return writeFailed();
  return summary;
}

}  // namespace conduit::recorder
