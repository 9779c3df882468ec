#include "tile_image.hpp"

// jpeglib.h needs FILE declared first.
#include <cstdio>

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>

namespace conduit::recorder::detail {

namespace {

std::optional<RgbImage> decodePng(std::span<const unsigned char> bytes, std::size_t maxPixels) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  // libpng's simplified API reports errors through its return value (no longjmp here).
  if (png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()) == 0) return {};
  if (static_cast<std::size_t>(image.width) * image.height > maxPixels) {
    png_image_free(&image);
    return {};
  }
  image.format = PNG_FORMAT_RGB;
  RgbImage out{image.width, image.height, {}};
  out.rgb.resize(PNG_IMAGE_SIZE(image));
  if (png_image_finish_read(&image, nullptr, out.rgb.data(), 0, nullptr) == 0) {
    png_image_free(&image);
    return {};
  }
  return out;
}

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
};

[[noreturn]] void jpegErrorExit(j_common_ptr cinfo) {
  std::longjmp(reinterpret_cast<JpegError*>(cinfo->err)->jump, 1);
}

void jpegSilent(j_common_ptr /*cinfo*/, int /*level*/) {}

// No C++ object with a destructor lives between setjmp and a longjmp: `out` is filled by the
// caller's buffer, sized after the header is read.
bool readJpeg(jpeg_decompress_struct* cinfo, std::span<const unsigned char> bytes,
              std::size_t maxPixels, RgbImage* out) {
  JpegError error{};
  cinfo->err = jpeg_std_error(&error.mgr);
  error.mgr.error_exit = jpegErrorExit;
  error.mgr.emit_message = jpegSilent;
  if (setjmp(error.jump)) {
    jpeg_destroy_decompress(cinfo);
    return false;
  }
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  if (jpeg_read_header(cinfo, TRUE) != JPEG_HEADER_OK ||
      static_cast<std::size_t>(cinfo->image_width) * cinfo->image_height > maxPixels) {
    jpeg_destroy_decompress(cinfo);
    return false;
  }
  cinfo->out_color_space = JCS_RGB;
  jpeg_start_decompress(cinfo);
  out->width = cinfo->output_width;
  out->height = cinfo->output_height;
  out->rgb.resize(static_cast<std::size_t>(out->width) * out->height * 3);
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row =
        out->rgb.data() + static_cast<std::size_t>(cinfo->output_scanline) * out->width * 3;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  jpeg_destroy_decompress(cinfo);
  return true;
}

}  // namespace

std::optional<RgbImage> decodeTile(std::uint8_t format, std::span<const unsigned char> bytes,
                                   std::size_t maxPixels) {
  if (format == 1) return decodePng(bytes, maxPixels);
  if (format == 2) {
    jpeg_decompress_struct cinfo{};
    RgbImage out;
    if (!readJpeg(&cinfo, bytes, maxPixels, &out)) return {};
    return out;
  }
  return {};
}

}  // namespace conduit::recorder::detail
