#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace conduit::recorder::detail {

/// A decoded tile: RGB, 3 bytes per pixel, rows top to bottom.
struct RgbImage {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::vector<unsigned char> rgb;
};

/// Decodes a tile's PNG (format 1) or JPEG (format 2) with libpng / libjpeg-turbo. nullopt for
/// anything they refuse, another format, or an image larger than `maxPixels`.
std::optional<RgbImage> decodeTile(std::uint8_t format, std::span<const unsigned char> bytes,
                                   std::size_t maxPixels);

}  // namespace conduit::recorder::detail
