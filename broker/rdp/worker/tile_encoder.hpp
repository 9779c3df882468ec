#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace conduit::rdp::worker {

/// A read-only view of the GDI's frame buffer: 32-bit BGRX pixels, `stride` bytes per row.
struct PixelView {
  const std::uint8_t* data = nullptr;
  std::uint32_t stride = 0;
  int width = 0;
  int height = 0;
};

struct Rect {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};

/// Encodes the rectangle (inside the view) as an RGB PNG: zlib level 1 and the Sub filter,
/// because latency matters more than bytes on a LAN. nullopt if libpng fails.
std::optional<std::vector<std::uint8_t>> encodePng(const PixelView& view, const Rect& rect);

/// Encodes the rectangle as a baseline JPEG of the given quality (1..100). nullopt on failure.
std::optional<std::vector<std::uint8_t>> encodeJpeg(const PixelView& view, const Rect& rect,
                                                    int quality);

/// PNG compresses UI and text to well under a byte per pixel; a tile whose PNG takes more than
/// this is photo-like (a wallpaper, a camera view) and goes as JPEG instead: a 1920x1080
/// keyframe of a photo stays near 1 MB instead of about 6 MB, which a vendor's slow link (and
/// the portal's per-socket send queue) must carry in one piece.
inline constexpr double kPngMaxBytesPerPixel = 1.0;

struct EncodedTile {
  bool jpeg = false;
  std::vector<std::uint8_t> bytes;
};

/// The tile as JPEG when `jpeg` (an area that changes often), else as PNG unless that PNG
/// exceeds kPngMaxBytesPerPixel, then as JPEG. nullopt if encoding fails.
std::optional<EncodedTile> encodeTile(const PixelView& view, const Rect& rect, bool jpeg,
                                      int jpegQuality);

}  // namespace conduit::rdp::worker
