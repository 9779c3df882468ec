#include "conduit/tunnel/s7_framer.hpp"

namespace conduit::tunnel {

std::optional<std::string> checkTpktHeader(std::span<const std::uint8_t> prefix) {
  if (!prefix.empty() && prefix[0] != kTpktVersion) {
    return "not ISO-on-TCP: TPKT version " + std::to_string(prefix[0]) + ", expected 3";
  }
  if (prefix.size() >= kTpktHeaderBytes) {
    const auto length = static_cast<std::size_t>((prefix[2] << 8) | prefix[3]);
    if (length < kMinTpktLength || length > kMaxTpktLength) {
      return "TPKT length " + std::to_string(length) + " outside " +
             std::to_string(kMinTpktLength) + ".." + std::to_string(kMaxTpktLength);
    }
  }
  return std::nullopt;
}

}  // namespace conduit::tunnel
