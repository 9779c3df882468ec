#pragma once

// Little helpers for the recorder's binary encodings (private to the module).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace conduit::recorder::detail {

inline void putU16Le(std::vector<unsigned char>& out, std::uint16_t v) {
  out.push_back(static_cast<unsigned char>(v & 0xff));
  out.push_back(static_cast<unsigned char>(v >> 8));
}
inline void putU32Le(std::vector<unsigned char>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<unsigned char>((v >> (8 * i)) & 0xff));
}
inline void putU64Le(std::vector<unsigned char>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<unsigned char>((v >> (8 * i)) & 0xff));
}
inline void storeU32Le(unsigned char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>((v >> (8 * i)) & 0xff);
}
inline void storeU64Le(unsigned char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>((v >> (8 * i)) & 0xff);
}
inline std::uint16_t loadU16Le(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t loadU32Le(const unsigned char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline std::uint64_t loadU64Le(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

/// Bounds-checked sequential reads over a byte span; any overrun sets failed() and returns 0s.
class Cursor {
 public:
  explicit Cursor(std::span<const unsigned char> bytes) : bytes_(bytes) {}
  bool failed() const { return failed_; }
  std::size_t remaining() const { return bytes_.size() - pos_; }
  std::size_t position() const { return pos_; }
  std::span<const unsigned char> take(std::size_t n) {
    if (failed_ || n > remaining()) {
      failed_ = true;
      return {};
    }
    auto s = bytes_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  std::uint8_t u8() {
    auto s = take(1);
    return s.empty() ? 0 : s[0];
  }
  std::uint16_t u16Le() {
    auto s = take(2);
    return s.empty() ? 0 : loadU16Le(s.data());
  }
  std::uint16_t u16Be() {
    auto s = take(2);
    return s.empty() ? 0 : static_cast<std::uint16_t>((s[0] << 8) | s[1]);
  }
  std::uint32_t u32Le() {
    auto s = take(4);
    return s.empty() ? 0 : loadU32Le(s.data());
  }
  std::uint64_t u64Le() {
    auto s = take(8);
    return s.empty() ? 0 : loadU64Le(s.data());
  }
  std::string string(std::size_t n) {
    auto s = take(n);
    return {reinterpret_cast<const char*>(s.data()), s.size()};
  }

 private:
  std::span<const unsigned char> bytes_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

/// JSON string literal (with quotes) for UTF-8 text; control characters are \u-escaped.
std::string jsonString(std::string_view text);

}  // namespace conduit::recorder::detail
