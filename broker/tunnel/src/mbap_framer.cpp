#include "conduit/tunnel/mbap_framer.hpp"

namespace conduit::tunnel {

std::optional<std::string> checkMbapHeader(std::span<const std::uint8_t> prefix) {
  if (prefix.size() >= 4) {
    const auto protocol = static_cast<unsigned>((prefix[2] << 8) | prefix[3]);
    if (protocol != 0) {
      return "not Modbus/TCP: protocol id " + std::to_string(protocol) + ", expected 0";
    }
  }
  if (prefix.size() >= 6) {
    const auto length = static_cast<unsigned>((prefix[4] << 8) | prefix[5]);
    if (length < kMinMbapLength || length > kMaxMbapLength) {
      return "Modbus/TCP length " + std::to_string(length) + " outside " +
             std::to_string(kMinMbapLength) + ".." + std::to_string(kMaxMbapLength);
    }
  }
  return std::nullopt;
}

}  // namespace conduit::tunnel
