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

// BGRX (the GDI's PIXEL_FORMAT_BGRX32) to packed RGB, one row.
void toRgb(const PixelView& view, const Rect& rect, int row, std::uint8_t* out) {
  const std::uint8_t* in = view.data + static_cast<std::size_t>(rect.y + row) * view.stride +
                           static_cast<std::size_t>(rect.x) * 4;
  for (int i = 0; i < rect.width; ++i, in += 4, out += 3) {
    out[0] = in[2];
    out[1] = in[1];
    out[2] = in[0];
  }
}

std::vector<std::uint8_t> rgbRows(const PixelView& view, const Rect& rect) {
  const auto rowBytes = static_cast<std::size_t>(rect.width) * 3;
  std::vector<std::uint8_t> rgb(rowBytes * static_cast<std::size_t>(rect.height));
  for (int row = 0; row < rect.height; ++row)
    toRgb(view, rect, row, rgb.data() + rowBytes * static_cast<std::size_t>(row));
  return rgb;
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

bool writeJpeg(unsigned char** buffer, unsigned long* size, std::uint8_t* rgb, int width,
               int height, int quality) {
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
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  const auto rowBytes = static_cast<std::size_t>(width) * 3;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = rgb + rowBytes * cinfo.next_scanline;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

}  // namespace

std::optional<std::vector<std::uint8_t>> encodePng(const PixelView& view, const Rect& rect) {
  auto rgb = rgbRows(view, rect);
  std::vector<png_bytep> rows(static_cast<std::size_t>(rect.height));
  for (std::size_t i = 0; i < rows.size(); ++i)
    rows[i] = rgb.data() + i * static_cast<std::size_t>(rect.width) * 3;
  std::vector<std::uint8_t> out;
  out.reserve(rgb.size() / 4);
  if (!writePng(&out, &rows, rect.width, rect.height)) return std::nullopt;
  return out;
}

std::optional<std::vector<std::uint8_t>> encodeJpeg(const PixelView& view, const Rect& rect,
                                                    int quality) {
  auto rgb = rgbRows(view, rect);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const bool ok = writeJpeg(&buffer, &size, rgb.data(), rect.width, rect.height, quality);
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
