#include "tile_encoder.hpp"

// clang-format off
#include <cstdio>  // jpeglib.h needs FILE
#include <jpeglib.h>
// clang-format on
#include <png.h>

#include <csetjmp>
#include <cstdlib>

namespace conduit::rdp::worker {

namespace {

// The rectangle's rows, straight from the frame buffer (BGRX, the GDI's PIXEL_FORMAT_BGRX32):
// both encoders read that layout themselves (libpng: png_set_bgr and png_set_filler; libjpeg-turbo:
// JCS_EXT_BGRX), so no pixel is converted or copied first. Both only read the rows.
std::vector<std::uint8_t*> rowsOf(const PixelView& view, const Rect& rect) {
  std::vector<std::uint8_t*> rows(static_cast<std::size_t>(rect.height));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i] = const_cast<std::uint8_t*>(view.data) +
              (static_cast<std::size_t>(rect.y) + i) * view.stride +
              static_cast<std::size_t>(rect.x) * 4;
  }
  return rows;
}

void pngWrite(png_structp png, png_bytep data, png_size_t length) noexcept {
  auto* out = static_cast<std::vector<std::uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}

void pngFlush(png_structp) noexcept {}

// libpng reports errors by longjmp to png_jmpbuf: kept in a function with trivial locals only.
bool writePng(std::vector<std::uint8_t>* out, std::vector<png_bytep>* rows, int width, int height) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (png == nullptr) return false;
  png_infop info = png_create_info_struct(png);
  if (info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, out, pngWrite, pngFlush);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  // Level 1 and one cheap filter: most of a desktop is flat colour or text, which compresses
  // well even so; the slow levels cost milliseconds per tile for a few percent.
  png_set_compression_level(png, 1);
  png_set_filter(png, 0, PNG_FILTER_SUB);
  png_write_info(png, info);
  png_set_bgr(png);                          // the rows are B, G, R ...
  png_set_filler(png, 0, PNG_FILLER_AFTER);  // ... and X, which is dropped
  png_write_image(png, rows->data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
};

[[noreturn]] void jpegErrorExit(j_common_ptr cinfo) {
  std::longjmp(reinterpret_cast<JpegError*>(cinfo->err)->jump, 1);
}

bool writeJpeg(unsigned char** buffer, unsigned long* size, std::vector<std::uint8_t*>* rows,
               int width, int height, int quality) {
  jpeg_compress_struct cinfo{};
  JpegError error{};
  cinfo.err = jpeg_std_error(&error.mgr);
  error.mgr.error_exit = jpegErrorExit;
  if (setjmp(error.jump)) {
    jpeg_destroy_compress(&cinfo);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, buffer, size);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_EXT_BGRX;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    jpeg_write_scanlines(&cinfo, rows->data() + cinfo.next_scanline,
                         cinfo.image_height - cinfo.next_scanline);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

}  // namespace

std::optional<std::vector<std::uint8_t>> encodePng(const PixelView& view, const Rect& rect) {
  auto rows = rowsOf(view, rect);
  std::vector<std::uint8_t> out;
  out.reserve(static_cast<std::size_t>(rect.width) * static_cast<std::size_t>(rect.height) / 2);
  if (!writePng(&out, &rows, rect.width, rect.height)) return std::nullopt;
  return out;
}

std::optional<std::vector<std::uint8_t>> encodeJpeg(const PixelView& view, const Rect& rect,
                                                    int quality) {
  auto rows = rowsOf(view, rect);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const bool ok = writeJpeg(&buffer, &size, &rows, rect.width, rect.height, quality);
  std::optional<std::vector<std::uint8_t>> out;
  if (ok && buffer != nullptr) out.emplace(buffer, buffer + size);
  std::free(buffer);
  return out;
}

std::optional<EncodedTile> encodeTile(const PixelView& view, const Rect& rect, bool jpeg,
                                      int jpegQuality) {
  if (!jpeg) {
    auto png = encodePng(view, rect);
    if (!png) return std::nullopt;
    const double pixels = static_cast<double>(rect.width) * rect.height;
    if (static_cast<double>(png->size()) <= kPngMaxBytesPerPixel * pixels) {
      return EncodedTile{false, std::move(*png)};
    }
  }
  auto image = encodeJpeg(view, rect, jpegQuality);
  if (!image) return std::nullopt;
  return EncodedTile{true, std::move(*image)};
}

}  // namespace conduit::rdp::worker
