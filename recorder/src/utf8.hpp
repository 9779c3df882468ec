#pragma once

// Turns arbitrary bytes into valid UTF-8, keeping a sequence split across calls intact.
// Private to the module (asciicast export and text extraction).

#include <cstdint>
#include <span>
#include <string>

namespace conduit::recorder::detail {

class Utf8Sanitizer {
 public:
  /// Appends the valid UTF-8 for `bytes` to `out`; invalid bytes become U+FFFD, an incomplete
  /// sequence at the end is held for the next call.
  void feed(std::span<const unsigned char> bytes, std::string& out) {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      const unsigned char b = bytes[i];
      if (need_ == 0) {
        if (b < 0x80) {
          out.push_back(static_cast<char>(b));
        } else if (b >= 0xc2 && b <= 0xdf) {
          start(b, 2);
        } else if (b >= 0xe0 && b <= 0xef) {
          start(b, 3);
        } else if (b >= 0xf0 && b <= 0xf4) {
          start(b, 4);
        } else {
          out += kReplacement;
        }
        continue;
      }
      unsigned char lo = 0x80;
      unsigned char hi = 0xbf;
      if (have_ == 1) {  // the second byte has tighter ranges (overlongs, surrogates, > U+10FFFF)
        if (seq_[0] == 0xe0) lo = 0xa0;
        if (seq_[0] == 0xed) hi = 0x9f;
        if (seq_[0] == 0xf0) lo = 0x90;
        if (seq_[0] == 0xf4) hi = 0x8f;
      }
      if (b < lo || b > hi) {
        out += kReplacement;
        need_ = 0;
        --i;  // reprocess this byte as the start of something new
        continue;
      }
      seq_[have_++] = b;
      if (have_ == need_) {
        out.append(reinterpret_cast<const char*>(seq_), have_);
        need_ = 0;
      }
    }
  }
  /// Ends the stream: an unfinished sequence becomes U+FFFD.
  void finish(std::string& out) {
    if (need_ != 0) out += kReplacement;
    need_ = 0;
  }

 private:
  static constexpr const char* kReplacement = "\xef\xbf\xbd";
  void start(unsigned char b, unsigned n) {
    seq_[0] = b;
    have_ = 1;
    need_ = n;
  }
  unsigned char seq_[4] = {};
  unsigned have_ = 0;
  unsigned need_ = 0;
};

}  // namespace conduit::recorder::detail
