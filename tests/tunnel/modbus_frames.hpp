#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "conduit/tunnel/modbus_inspector.hpp"

namespace conduit::tunnel::testing {

using Bytes = std::vector<std::uint8_t>;

/// A Modbus/TCP frame: MBAP header (protocol 0, length = 1 + PDU) and the PDU given.
inline Bytes frame(std::uint16_t transaction, std::uint8_t unit, std::vector<std::uint8_t> pdu) {
  const auto length = static_cast<std::uint16_t>(pdu.size() + 1);
  Bytes b = {static_cast<std::uint8_t>(transaction >> 8),
             static_cast<std::uint8_t>(transaction & 0xff),
             0,
             0,
             static_cast<std::uint8_t>(length >> 8),
             static_cast<std::uint8_t>(length & 0xff),
             unit};
  b.insert(b.end(), pdu.begin(), pdu.end());
  return b;
}

inline std::uint8_t hi(std::uint16_t v) {
  return static_cast<std::uint8_t>(v >> 8);
}
inline std::uint8_t lo(std::uint16_t v) {
  return static_cast<std::uint8_t>(v & 0xff);
}

/// Request PDU of a read (1-4): function, address, quantity.
inline Bytes readPdu(std::uint8_t function, std::uint16_t address, std::uint16_t quantity) {
  return {function, hi(address), lo(address), hi(quantity), lo(quantity)};
}
/// Write single register (6).
inline Bytes writeRegisterPdu(std::uint16_t address, std::uint16_t value) {
  return {6, hi(address), lo(address), hi(value), lo(value)};
}
/// Write multiple registers (16) with the values given.
inline Bytes writeRegistersPdu(std::uint16_t address, const std::vector<std::uint16_t>& values) {
  Bytes p = {16,
             hi(address),
             lo(address),
             hi(static_cast<std::uint16_t>(values.size())),
             lo(static_cast<std::uint16_t>(values.size())),
             static_cast<std::uint8_t>(2 * values.size())};
  for (auto v : values) {
    p.push_back(hi(v));
    p.push_back(lo(v));
  }
  return p;
}
/// Write multiple coils (15) with the bits given.
inline Bytes writeCoilsPdu(std::uint16_t address, const std::vector<bool>& bits) {
  const auto n = static_cast<std::uint16_t>(bits.size());
  Bytes p = {15, hi(address), lo(address), hi(n), lo(n), static_cast<std::uint8_t>((n + 7) / 8)};
  p.resize(p.size() + (n + 7u) / 8u, 0);
  for (std::size_t i = 0; i < bits.size(); ++i) {
    if (bits[i]) p[6 + i / 8] = static_cast<std::uint8_t>(p[6 + i / 8] | (1u << (i % 8)));
  }
  return p;
}

/// The 9-byte exception response for a request.
inline Bytes exception(std::uint16_t transaction, std::uint8_t unit, std::uint8_t function,
                       std::uint8_t code) {
  return frame(transaction, unit, {static_cast<std::uint8_t>(function | 0x80), code});
}

/// Concatenates frames.
inline Bytes join(std::initializer_list<Bytes> parts) {
  Bytes all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

/// A fixed instant plus `s` seconds.
inline Instant at(int s) {
  return Instant{std::chrono::seconds{1'700'000'000}} + std::chrono::seconds{s};
}

/// Options: a read-only grant with no further limits.
inline core::ModbusOptions readOnly() {
  return core::ModbusOptions{};
}
/// Options: writes allowed (or approved) with no further limits.
inline core::ModbusOptions writable(core::WriteMode mode = core::WriteMode::allow) {
  core::ModbusOptions o;
  o.readOnly = false;
  o.writes = mode;
  return o;
}

}  // namespace conduit::tunnel::testing
