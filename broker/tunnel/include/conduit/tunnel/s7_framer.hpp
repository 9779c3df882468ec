#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "conduit/tunnel/s7_protocol.hpp"

namespace conduit::tunnel {

/// One whole TPKT packet, viewed where it lies: valid only during the callback that gets it.
struct TpktFrame {
  std::span<const std::uint8_t> bytes;  // TPKT header and TPDU, exactly as received

  std::span<const std::uint8_t> tpdu() const noexcept { return bytes.subspan(kTpktHeaderBytes); }
};

/// Why a header prefix is not TPKT (version other than 3, length outside 7..8196); nullopt if
/// the bytes seen so far (any number, from 0 to a whole header) can still start a packet.
std::optional<std::string> checkTpktHeader(std::span<const std::uint8_t> prefix);

/// Splits one direction of an ISO-on-TCP stream into TPKT packets, whatever the reads'
/// boundaries: a packet across many reads, many packets in one read. Keeps at most one
/// incomplete packet (kMaxTpktLength). A malformed header is fatal: TPKT has no marker to
/// resynchronise on, and a peer that sends one is not speaking ISO-on-TCP.
class TpktFramer {
 public:
  /// Calls onFrame(const TpktFrame&) for every packet completed by `data`, in order. Returns
  /// the reason on the first malformed header; the framer then stays failed and ignores input.
  template <typename OnFrame>
  std::optional<std::string> feed(std::span<const std::uint8_t> data, OnFrame&& onFrame);

  /// The reason it failed, if it did.
  const std::optional<std::string>& failure() const noexcept { return failure_; }
  /// Bytes of an incomplete packet held back for the next feed.
  std::size_t buffered() const noexcept { return partial_.size(); }

 private:
  static std::size_t packetSize(std::span<const std::uint8_t> header) noexcept {
    return static_cast<std::size_t>((header[2] << 8) | header[3]);
  }
  std::optional<std::string> fail(std::string reason) {
    failure_ = std::move(reason);
    partial_.clear();
    partial_.shrink_to_fit();
    return failure_;
  }

  // Grows to the packet being gathered (at most kMaxTpktLength): most packets of an S7
  // connection are a few dozen bytes, so a fixed 8 KiB buffer per direction would be waste.
  std::vector<std::uint8_t> partial_;
  std::optional<std::string> failure_;
};

template <typename OnFrame>
std::optional<std::string> TpktFramer::feed(std::span<const std::uint8_t> data, OnFrame&& onFrame) {
  if (failure_) return failure_;
  while (!data.empty()) {
    if (partial_.empty() && data.size() >= kTpktHeaderBytes) {
      // Whole packets straight from the caller's buffer: no copy on the common path.
      if (auto bad = checkTpktHeader(data.first(kTpktHeaderBytes))) return fail(std::move(*bad));
      const std::size_t size = packetSize(data);
      if (data.size() >= size) {
        onFrame(TpktFrame{data.first(size)});
        data = data.subspan(size);
        continue;
      }
    }
    // Otherwise gather the header, then the rest of the packet, in partial_.
    const std::size_t want =
        partial_.size() < kTpktHeaderBytes ? kTpktHeaderBytes : packetSize(partial_);
    const std::size_t take = std::min(want - partial_.size(), data.size());
    partial_.insert(partial_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
    data = data.subspan(take);
    if (partial_.size() <= kTpktHeaderBytes) {
      // Checked as soon as the bytes arrive: garbage is refused before a whole header waits.
      if (auto bad = checkTpktHeader(partial_)) return fail(std::move(*bad));
    }
    if (partial_.size() >= kTpktHeaderBytes && partial_.size() == packetSize(partial_)) {
      // Moved out first: onFrame may not see partial_ change under it, and the next packet
      // starts empty.
      const std::vector<std::uint8_t> packet = std::move(partial_);
      partial_.clear();
      onFrame(TpktFrame{packet});
    }
  }
  return std::nullopt;
}

}  // namespace conduit::tunnel
