// The worker's tile encoding: PNG for UI and text, JPEG for photo-like tiles (their PNG would be
// several times larger), decoded back with libpng to check the pixels survive.
#include <png.h>
// clang-format off
#include <cstdio>  // jpeglib.h needs FILE
#include <jpeglib.h>
// clang-format on

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
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

/// A JPEG decoded to packed RGB, with its size.
std::vector<std::uint8_t> decodeJpeg(const std::vector<std::uint8_t>& jpeg, int& width,
                                     int& height) {
  jpeg_decompress_struct cinfo{};
  jpeg_error_mgr err{};
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, jpeg.data(), static_cast<unsigned long>(jpeg.size()));
  REQUIRE(jpeg_read_header(&cinfo, TRUE) == JPEG_HEADER_OK);
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  width = static_cast<int>(cinfo.output_width);
  height = static_cast<int>(cinfo.output_height);
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(width * height * 3));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row =
        rgb.data() + static_cast<std::size_t>(cinfo.output_scanline) * cinfo.output_width * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return rgb;
}

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

TEST_CASE("tiles inside the frame keep their colours and place, as PNG and as JPEG") {
  // Read straight from the BGRX frame buffer: the channel order and the tile's offset matter.
  // Left half orange (r 250, g 140, b 20), right half teal (r 10, g 128, b 128).
  auto buf = frame([](int x, int) { return x < 128 ? Rgb{20, 140, 250} : Rgb{128, 128, 10}; });
  const PixelView view{buf.data(), 256 * 4, 256, 256};
  const Rect rect{96, 32, 64, 48};  // straddles the edge at x = 128
  auto png = encodePng(view, rect);
  REQUIRE(png);
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_memory(&image, png->data(), png->size()) != 0);
  image.format = PNG_FORMAT_RGB;
  std::vector<std::uint8_t> rgb(PNG_IMAGE_SIZE(image));
  REQUIRE(png_image_finish_read(&image, nullptr, rgb.data(), 0, nullptr) != 0);
  REQUIRE(image.width == 64);
  REQUIRE(image.height == 48);
  auto at = [](const std::vector<std::uint8_t>& px, int x, int y) {
    const auto* p = &px[static_cast<std::size_t>((y * 64 + x) * 3)];
    return std::vector<int>{p[0], p[1], p[2]};
  };
  CHECK(at(rgb, 0, 0) == std::vector<int>{250, 140, 20});    // x 96: orange
  CHECK(at(rgb, 31, 47) == std::vector<int>{250, 140, 20});  // x 127
  CHECK(at(rgb, 32, 10) == std::vector<int>{10, 128, 128});  // x 128: teal
  auto jpeg = encodeJpeg(view, rect, 90);
  REQUIRE(jpeg);
  int w = 0, h = 0;
  const auto decoded = decodeJpeg(*jpeg, w, h);
  REQUIRE(w == 64);
  REQUIRE(h == 48);
  auto near = [](const std::vector<int>& got, const std::vector<int>& want) {
    for (std::size_t i = 0; i < 3; ++i) {
      if (std::abs(got[i] - want[i]) > 12) return false;
    }
    return true;
  };
  CHECK(near(at(decoded, 4, 4), {250, 140, 20}));
  CHECK(near(at(decoded, 60, 40), {10, 128, 128}));
}
