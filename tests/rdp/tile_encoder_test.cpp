// The worker's tile encoding: PNG for UI and text, JPEG for photo-like tiles (their PNG would be
// several times larger), decoded back with libpng to check the pixels survive.
#include <png.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <vector>

#include "tile_encoder.hpp"

using namespace conduit::rdp::worker;

namespace {

/// A 256x256 BGRX frame buffer filled by `pixel(x, y)` -> {b, g, r}.
template <typename F>
std::vector<std::uint8_t> frame(F pixel) {
  std::vector<std::uint8_t> buf(256 * 256 * 4);
  for (int y = 0; y < 256; ++y) {
    for (int x = 0; x < 256; ++x) {
      const auto [b, g, r] = pixel(x, y);
      auto* p = &buf[static_cast<std::size_t>((y * 256 + x) * 4)];
      p[0] = b;
      p[1] = g;
      p[2] = r;
      p[3] = 0;
    }
  }
  return buf;
}

struct Rgb {
  std::uint8_t b, g, r;
};

}  // namespace

TEST_CASE("UI-like tiles go as PNG and decode to the same pixels") {
  // White with dark text-like strokes: what a terminal or an HMI screen looks like.
  auto buf = frame([](int x, int y) {
    const std::uint8_t v = (y % 16 < 2 && x % 7 < 4) ? 20 : 255;
    return Rgb{v, v, v};
  });
  const PixelView view{buf.data(), 256 * 4, 256, 256};
  auto tile = encodeTile(view, {0, 0, 256, 256}, false, 80);
  REQUIRE(tile);
  CHECK_FALSE(tile->jpeg);
  CHECK(tile->bytes.size() < 256u * 256u / 4);
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_memory(&image, tile->bytes.data(), tile->bytes.size()) != 0);
  image.format = PNG_FORMAT_RGB;
  std::vector<std::uint8_t> rgb(PNG_IMAGE_SIZE(image));
  REQUIRE(png_image_finish_read(&image, nullptr, rgb.data(), 0, nullptr) != 0);
  CHECK(image.width == 256);
  CHECK(image.height == 256);
  CHECK(rgb[0] == 20);                   // (0,0) is a stroke
  CHECK(rgb[(5 * 256 + 0) * 3] == 255);  // (0,5) is background
}

TEST_CASE(
    "photo-like tiles go as JPEG, far smaller than their PNG, and a request for JPEG "
    "is honoured") {
  std::mt19937 rng(42);
  auto buf = frame([&](int, int) {
    return Rgb{static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()),
               static_cast<std::uint8_t>(rng())};
  });
  const PixelView view{buf.data(), 256 * 4, 256, 256};
  auto png = encodePng(view, {0, 0, 256, 256});
  REQUIRE(png);
  CHECK(png->size() > 256u * 256u);  // noise: PNG cannot compress it below a byte per pixel
  auto tile = encodeTile(view, {0, 0, 256, 256}, false, 80);
  REQUIRE(tile);
  CHECK(tile->jpeg);
  CHECK(tile->bytes.size() < png->size());
  CHECK(tile->bytes[0] == 0xff);
  CHECK(tile->bytes[1] == 0xd8);
  // Asked for JPEG (a video-like area), even a flat tile goes as JPEG.
  auto white = frame([](int, int) { return Rgb{255, 255, 255}; });
  auto forced = encodeTile(PixelView{white.data(), 256 * 4, 256, 256}, {64, 64, 64, 64}, true, 80);
  REQUIRE(forced);
  CHECK(forced->jpeg);
}
