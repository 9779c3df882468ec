#pragma once

// S7comm packets built by hand, byte by byte, for the S7 tests: written from the protocol's
// layout, not with the code under test, so that a test compares the inspector with the
// protocol and not with itself.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "conduit/tunnel/s7_inspector.hpp"

namespace conduit::tunnel::s7testing {

using Bytes = std::vector<std::uint8_t>;

inline std::uint8_t hi(std::size_t v) {
  return static_cast<std::uint8_t>((v >> 8) & 0xff);
}
inline std::uint8_t lo(std::size_t v) {
  return static_cast<std::uint8_t>(v & 0xff);
}

/// Concatenates byte strings.
inline Bytes join(std::initializer_list<Bytes> parts) {
  Bytes all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

/// A TPKT packet around a TPDU.
inline Bytes tpkt(const Bytes& tpdu) {
  return join({{3, 0, hi(tpdu.size() + 4), lo(tpdu.size() + 4)}, tpdu});
}

/// A COTP data TPDU (class 0) in a TPKT packet; `last` sets EOT.
inline Bytes dt(const Bytes& s7, bool last = true) {
  return tpkt(join({{2, 0xf0, static_cast<std::uint8_t>(last ? 0x80 : 0x00)}, s7}));
}

/// The connect request an S7 client sends for rack 0, slot 2: source reference 1, TPDU size
/// 1024, calling TSAP 01 00, called TSAP 01 02.
inline Bytes connectRequest() {
  return tpkt({0x11, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x0a, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2});
}
/// The PLC's connect confirm to it.
inline Bytes connectConfirm() {
  return tpkt({0x11, 0xd0, 0, 1, 0, 0x44, 0, 0xc0, 1, 0x0a, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2});
}

/// An S7 job PDU.
inline Bytes job(std::uint16_t ref, const Bytes& param, const Bytes& data = {}) {
  return join({{0x32, 1, 0, 0, hi(ref), lo(ref), hi(param.size()), lo(param.size()),
                hi(data.size()), lo(data.size())},
               param,
               data});
}
/// An S7 ack_data PDU with the error class and code given.
inline Bytes ackData(std::uint16_t ref, const Bytes& param, const Bytes& data = {},
                     std::uint8_t errorClass = 0, std::uint8_t errorCode = 0) {
  return join({{0x32, 3, 0, 0, hi(ref), lo(ref), hi(param.size()), lo(param.size()),
                hi(data.size()), lo(data.size()), errorClass, errorCode},
               param,
               data});
}
/// An S7 userdata PDU: a request (type 4) or a response (type 8 with an error code).
inline Bytes userdata(std::uint16_t ref, std::uint8_t type, std::uint8_t group, std::uint8_t sub,
                      const Bytes& data, std::uint16_t errorCode = 0, std::uint8_t seq = 0) {
  const Bytes param =
      type == 4
          ? Bytes{0, 1, 0x12, 4, 0x11, static_cast<std::uint8_t>(0x40 | group), sub, seq}
          : Bytes{0,   1,   0x12, 8, 0x12,          static_cast<std::uint8_t>((type << 4) | group),
                  sub, seq, 0,    0, hi(errorCode), lo(errorCode)};
  return join({{0x32, 7, 0, 0, hi(ref), lo(ref), hi(param.size()), lo(param.size()),
                hi(data.size()), lo(data.size())},
               param,
               data});
}

/// Setup communication parameter: 1 job each way, the PDU size given.
inline Bytes setupParam(std::uint16_t pduSize) {
  return {0xf0, 0, 0, 1, 0, 1, hi(pduSize), lo(pduSize)};
}
/// An S7ANY item: `count` of `transport` at `area` (DB `db`) byte `byteAddress`, bit `bit`.
inline Bytes anyItem(std::uint8_t area, std::uint16_t db, std::uint32_t byteAddress,
                     std::uint8_t transport, std::uint16_t count, std::uint8_t bit = 0) {
  const std::uint32_t a = byteAddress * 8 + bit;
  return {0x12,
          0x0a,
          0x10,
          transport,
          hi(count),
          lo(count),
          hi(db),
          lo(db),
          area,
          static_cast<std::uint8_t>((a >> 16) & 0xff),
          static_cast<std::uint8_t>((a >> 8) & 0xff),
          static_cast<std::uint8_t>(a & 0xff)};
}
/// A read var (0x04) or write var (0x05) parameter with these items.
inline Bytes varParam(std::uint8_t function, std::initializer_list<Bytes> items) {
  Bytes p = {function, static_cast<std::uint8_t>(items.size())};
  for (const auto& i : items) p.insert(p.end(), i.begin(), i.end());
  return p;
}
/// A data item of a write var job (return code 0) or read var response (0xFF): transport
/// size 4 (bytes, length in bits).
inline Bytes byteData(const Bytes& value, std::uint8_t returnCode = 0) {
  return join({{returnCode, 4, hi(value.size() * 8), lo(value.size() * 8)}, value});
}

/// The broker's refusal of a job: ack_data, same PDU reference, the error in the header, the
/// function echoed (with item count 0 for read/write var).
inline Bytes refusal(std::uint16_t ref, std::uint8_t function, std::uint16_t error) {
  const Bytes param = function == 0x04 || function == 0x05 ? Bytes{function, 0} : Bytes{function};
  return dt(ackData(ref, param, {}, hi(error), lo(error)));
}

/// A fixed instant plus `s` seconds.
inline Instant at(int s) {
  return Instant{std::chrono::seconds{1'700'000'000}} + std::chrono::seconds{s};
}

/// A read-only grant with no further limits.
inline core::S7Options readOnly() {
  return core::S7Options{};
}
/// Writes allowed; `functions` listed if not empty.
inline core::S7Options writable(std::set<int> functions = {}) {
  core::S7Options o;
  o.readOnly = false;
  o.functions = std::move(functions);
  return o;
}

}  // namespace conduit::tunnel::s7testing
