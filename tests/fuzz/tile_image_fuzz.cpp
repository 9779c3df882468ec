// libFuzzer target: the PNG and JPEG tile decoding of the MP4 export (recorder/src/
// tile_image.cpp). The tiles of an RDP recording are what its worker sent, and a worker taken
// over by a hostile RDP server chooses those bytes (docs/threat-model.md).
//
// fuzz-sources: recorder/src/tile_image.cpp
// fuzz-includes: recorder/src
// fuzz-libs: -lpng16 -ljpeg

// jpeglib.h needs FILE declared first.
#include <cstdio>

#include <jpeglib.h>
#include <png.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "tile_image.hpp"

namespace {

// A 24x16 gradient, as a tile encoder would produce it.
std::vector<unsigned char> gradient() {
  std::vector<unsigned char> rgb(24 * 16 * 3);
  for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<unsigned char>(i * 7);
  return rgb;
}

void writeSeed(const std::filesystem::path& file, std::uint8_t format, const unsigned char* bytes,
               std::size_t size) {
  std::ofstream out(file, std::ios::binary);
  out.put(static_cast<char>(format));
  out.write(reinterpret_cast<const char*>(bytes), static_cast<std::streamsize>(size));
}

}  // namespace

// With CONDUIT_FUZZ_SEED_DIR set, writes a genuine PNG tile and a genuine JPEG tile there.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("CONDUIT_FUZZ_SEED_DIR");
  if (dir == nullptr || *dir == '\0') return 0;
  std::filesystem::create_directories(dir);
  const auto rgb = gradient();
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = 24;
  image.height = 16;
  image.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  if (png_image_write_to_memory(&image, nullptr, &size, 0, rgb.data(), 0, nullptr) != 0) {
    std::vector<unsigned char> png(size);
    if (png_image_write_to_memory(&image, png.data(), &size, 0, rgb.data(), 0, nullptr) != 0) {
      writeSeed(std::filesystem::path(dir) / "seed-png", 1, png.data(), size);
    }
  }
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr error{};
  cinfo.err = jpeg_std_error(&error);  // a seed that fails here ends the run: never for this
  jpeg_create_compress(&cinfo);
  unsigned char* jpeg = nullptr;
  unsigned long jpegSize = 0;
  jpeg_mem_dest(&cinfo, &jpeg, &jpegSize);
  cinfo.image_width = 24;
  cinfo.image_height = 16;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<unsigned char*>(rgb.data()) + cinfo.next_scanline * 24 * 3;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  writeSeed(std::filesystem::path(dir) / "seed-jpeg", 2, jpeg, jpegSize);
  std::free(jpeg);
  return 0;
}

// The first byte picks the format (1 PNG, 2 JPEG, anything else refused); the rest is the image.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // 4096x2160: the largest desktop, as the export bounds a tile by its canvas.
  constexpr std::size_t kMaxPixels = 4096u * 2160u;
  auto image = conduit::recorder::detail::decodeTile(data[0], {data + 1, size - 1}, kMaxPixels);
  if (image) {
    if (image->width == 0 || image->height == 0 ||
        static_cast<std::size_t>(image->width) * image->height > kMaxPixels ||
        image->rgb.size() != static_cast<std::size_t>(image->width) * image->height * 3) {
      std::abort();  // a decoded image is exactly what it says it is
    }
  }
  return 0;
}
