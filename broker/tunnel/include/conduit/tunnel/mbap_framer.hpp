#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "conduit/tunnel/modbus_protocol.hpp"

namespace conduit::tunnel {

/// One whole Modbus/TCP frame, viewed where it lies: valid only during the callback that gets it.
struct MbapFrame {
  std::span<const std::uint8_t> bytes;  // MBAP header and PDU, exactly as received

  std::uint16_t transaction() const noexcept {
    return static_cast<std::uint16_t>((bytes[0] << 8) | bytes[1]);
  }
  std::uint8_t unit() const noexcept { return bytes[6]; }
  std::span<const std::uint8_t> pdu() const noexcept { return bytes.subspan(kMbapHeaderBytes); }
  std::uint8_t function() const noexcept { return bytes[kMbapHeaderBytes]; }
};

/// Why a header prefix is not Modbus/TCP (protocol id not 0, length outside 2..254); nullopt if
/// the bytes seen so far (any number, from 0 to a whole header) can still start a frame.
std::optional<std::string> checkMbapHeader(std::span<const std::uint8_t> prefix);

/// Splits one direction of a Modbus/TCP stream into frames, whatever the reads' boundaries: a
/// frame across many reads, many frames in one read. Keeps at most one incomplete frame
/// (kMaxFrameBytes). A malformed header is fatal: the stream cannot be resynchronised, because
/// Modbus/TCP has no frame marker to search for, and a peer that sends one is not speaking it.
class MbapFramer {
 public:
  /// Calls onFrame(const MbapFrame&) for every frame completed by `data`, in order. Returns
  /// the reason on the first malformed header; the framer then stays failed and ignores input.
  template <typename OnFrame>
  std::optional<std::string> feed(std::span<const std::uint8_t> data, OnFrame&& onFrame);

  /// The reason it failed, if it did.
  const std::optional<std::string>& failure() const noexcept { return failure_; }
  /// Bytes of an incomplete frame held back for the next feed.
  std::size_t buffered() const noexcept { return partialSize_; }

 private:
  static std::size_t frameSize(std::span<const std::uint8_t> header) noexcept {
    return 6 + static_cast<std::size_t>((header[4] << 8) | header[5]);
  }
  std::optional<std::string> fail(std::string reason) {
    failure_ = std::move(reason);
    partialSize_ = 0;
    return failure_;
  }

  std::array<std::uint8_t, kMaxFrameBytes> partial_{};
  std::size_t partialSize_ = 0;
  std::optional<std::string> failure_;
};

template <typename OnFrame>
std::optional<std::string> MbapFramer::feed(std::span<const std::uint8_t> data, OnFrame&& onFrame) {
  if (failure_) return failure_;
  while (!data.empty()) {
    if (partialSize_ == 0 && data.size() >= kMbapHeaderBytes) {
      // Whole frames straight from the caller's buffer: no copy on the common path.
      if (auto bad = checkMbapHeader(data.first(kMbapHeaderBytes))) return fail(std::move(*bad));
      const std::size_t size = frameSize(data);
      if (data.size() >= size) {
        onFrame(MbapFrame{data.first(size)});
        data = data.subspan(size);
        continue;
      }
    }
    // Otherwise gather the header, then the rest of the frame, in partial_.
    const std::size_t want =
        partialSize_ < kMbapHeaderBytes ? kMbapHeaderBytes : frameSize(partial_);
    const std::size_t take = std::min(want - partialSize_, data.size());
    std::copy_n(data.begin(), take, partial_.begin() + static_cast<std::ptrdiff_t>(partialSize_));
    partialSize_ += take;
    data = data.subspan(take);
    const std::span<const std::uint8_t> held(partial_.data(), partialSize_);
    if (partialSize_ <= kMbapHeaderBytes) {
      // Checked as soon as the bytes arrive: garbage is refused before a whole header waits.
      if (auto bad = checkMbapHeader(held)) return fail(std::move(*bad));
    }
    if (partialSize_ >= kMbapHeaderBytes && partialSize_ == frameSize(held)) {
      partialSize_ = 0;
      onFrame(MbapFrame{held});
    }
  }
  return std::nullopt;
}

}  // namespace conduit::tunnel
