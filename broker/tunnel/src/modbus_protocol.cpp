#include "conduit/tunnel/modbus_protocol.hpp"

namespace conduit::tunnel {

namespace {

// Quantity limits of the specification: what fits in one PDU of at most 253 bytes.
constexpr std::uint16_t kMaxReadBits = 2000;         // 1, 2: 250 data bytes
constexpr std::uint16_t kMaxReadRegisters = 125;     // 3, 4, 23 read part: 250 data bytes
constexpr std::uint16_t kMaxWriteBits = 1968;        // 15: 246 data bytes
constexpr std::uint16_t kMaxWriteRegisters = 123;    // 16: 246 data bytes
constexpr std::uint16_t kMaxRwWriteRegisters = 121;  // 23 write part: 242 data bytes
constexpr std::uint16_t kCoilOn = 0xFF00;
constexpr std::uint8_t kExceptionBit = 0x80;
constexpr std::uint8_t kMeiReadDeviceId = 14;

std::uint16_t u16(std::span<const std::uint8_t> p, std::size_t at) {
  return static_cast<std::uint16_t>((p[at] << 8) | p[at + 1]);
}

std::string hex16(std::uint16_t v) {
  constexpr std::string_view kDigits = "0123456789ABCDEF";
  std::string s = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) s.push_back(kDigits[(v >> shift) & 0xf]);
  return s;
}

std::string quantityProblem(std::uint8_t function, std::uint16_t quantity, std::uint16_t max) {
  return "quantity " + std::to_string(quantity) + " outside 1.." + std::to_string(max) + " for " +
         std::string(functionName(function));
}

std::string lengthProblem(std::uint8_t function, std::size_t size, std::size_t expected) {
  return std::string(functionName(function)) + " PDU of " + std::to_string(size) +
         " bytes, expected " + std::to_string(expected);
}

// Appends `count` bits, least significant first in each byte, from `bytes`.
void appendBits(std::span<const std::uint8_t> bytes, std::size_t count,
                std::vector<std::uint16_t>& out) {
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(static_cast<std::uint16_t>((bytes[i / 8] >> (i % 8)) & 1));
  }
}

void appendRegisters(std::span<const std::uint8_t> bytes, std::size_t count,
                     std::vector<std::uint16_t>& out) {
  for (std::size_t i = 0; i < count; ++i) out.push_back(u16(bytes, 2 * i));
}

}  // namespace

FunctionClass functionClass(std::uint8_t function) noexcept {
  switch (function) {
    case 1:
    case 2:
    case 3:
    case 4:
      return FunctionClass::read;
    case 5:
    case 6:
    case 15:
    case 16:
    case 21:
    case 22:
    case 23:
      return FunctionClass::write;
    case 7:
    case 8:
    case 11:
    case 12:
    case 17:
    case 43:
      return FunctionClass::diagnostics;
    default:
      return FunctionClass::other;
  }
}

std::string_view functionClassName(FunctionClass c) noexcept {
  switch (c) {
    case FunctionClass::read:
      return "read";
    case FunctionClass::write:
      return "write";
    case FunctionClass::diagnostics:
      return "diagnostics";
    case FunctionClass::other:
      return "other";
  }
  return "other";
}

std::string_view functionName(std::uint8_t function) noexcept {
  switch (function & ~kExceptionBit) {
    case 1:
      return "read coils";
    case 2:
      return "read discrete inputs";
    case 3:
      return "read holding registers";
    case 4:
      return "read input registers";
    case 5:
      return "write single coil";
    case 6:
      return "write single register";
    case 7:
      return "read exception status";
    case 8:
      return "diagnostics";
    case 11:
      return "get comm event counter";
    case 12:
      return "get comm event log";
    case 15:
      return "write multiple coils";
    case 16:
      return "write multiple registers";
    case 17:
      return "report server id";
    case 20:
      return "read file record";
    case 21:
      return "write file record";
    case 22:
      return "mask write register";
    case 23:
      return "read/write multiple registers";
    case 24:
      return "read fifo queue";
    case 43:
      return "encapsulated interface transport";
    case 90:
      return "schneider umas";
    default:
      return "function";
  }
}

ModbusRequest decodeRequest(std::span<const std::uint8_t> pdu) {
  ModbusRequest r;
  if (pdu.empty()) {
    r.malformed = "empty PDU";
    return r;
  }
  r.function = pdu[0];
  const std::uint8_t f = r.function;
  // Sets `malformed` unless the PDU is exactly `n` bytes; true if it is.
  auto exactly = [&](std::size_t n) {
    if (pdu.size() == n) return true;
    r.malformed = lengthProblem(f, pdu.size(), n);
    return false;
  };
  auto atLeast = [&](std::size_t n) {
    if (pdu.size() >= n) return true;
    r.malformed = lengthProblem(f, pdu.size(), n);
    return false;
  };
  auto quantityOk = [&](std::uint16_t q, std::uint16_t max) {
    if (q >= 1 && q <= max) return true;
    r.malformed = quantityProblem(f, q, max);
    return false;
  };
  switch (f) {
    case 1:
    case 2:
    case 3:
    case 4: {
      if (!exactly(5)) break;
      r.read = AddressBlock{u16(pdu, 1), u16(pdu, 3)};
      (void)quantityOk(r.read->count, f <= 2 ? kMaxReadBits : kMaxReadRegisters);
      break;
    }
    case 5: {
      if (!exactly(5)) break;
      r.write = AddressBlock{u16(pdu, 1), 1};
      const auto value = u16(pdu, 3);
      if (value != 0 && value != kCoilOn) {
        r.malformed = "coil value " + hex16(value) + " is neither 0x0000 nor 0xFF00";
        break;
      }
      r.values.push_back(value == kCoilOn ? 1 : 0);
      break;
    }
    case 6: {
      if (!exactly(5)) break;
      r.write = AddressBlock{u16(pdu, 1), 1};
      r.values.push_back(u16(pdu, 3));
      break;
    }
    case 15:
    case 16: {
      if (!atLeast(6)) break;
      r.write = AddressBlock{u16(pdu, 1), u16(pdu, 3)};
      const std::uint16_t q = r.write->count;
      if (!quantityOk(q, f == 15 ? kMaxWriteBits : kMaxWriteRegisters)) break;
      const std::size_t bytes = f == 15 ? (q + 7u) / 8u : 2u * q;
      if (pdu[5] != bytes) {
        r.malformed = "byte count " + std::to_string(pdu[5]) + " does not match quantity " +
                      std::to_string(q) + " (" + std::to_string(bytes) + ")";
        break;
      }
      if (!exactly(6 + bytes)) break;
      if (f == 15) {
        appendBits(pdu.subspan(6), q, r.values);
      } else {
        appendRegisters(pdu.subspan(6), q, r.values);
      }
      break;
    }
    case 22: {
      if (!exactly(7)) break;
      r.write = AddressBlock{u16(pdu, 1), 1};
      r.values = {u16(pdu, 3), u16(pdu, 5)};
      break;
    }
    case 23: {
      if (!atLeast(10)) break;
      r.read = AddressBlock{u16(pdu, 1), u16(pdu, 3)};
      r.write = AddressBlock{u16(pdu, 5), u16(pdu, 7)};
      if (!quantityOk(r.read->count, kMaxReadRegisters)) break;
      if (!quantityOk(r.write->count, kMaxRwWriteRegisters)) break;
      const std::size_t bytes = std::size_t{2} * r.write->count;
      if (pdu[9] != bytes) {
        r.malformed = "byte count " + std::to_string(pdu[9]) + " does not match write quantity " +
                      std::to_string(r.write->count) + " (" + std::to_string(bytes) + ")";
        break;
      }
      if (!exactly(10 + bytes)) break;
      appendRegisters(pdu.subspan(10), r.write->count, r.values);
      break;
    }
    case 8: {
      if (atLeast(3)) r.subFunction = u16(pdu, 1);
      break;
    }
    case 43: {
      if (atLeast(2)) r.subFunction = pdu[1];
      break;
    }
    default:
      break;
  }
  return r;
}

bool changesState(const ModbusRequest& request) noexcept {
  if (functionClass(request.function) == FunctionClass::write) return true;
  if (request.function == 8) return true;
  if (request.function == 43) return request.subFunction != kMeiReadDeviceId;
  return false;
}

ModbusResponse decodeResponse(std::span<const std::uint8_t> pdu, const ModbusRequest& request,
                              std::size_t maxValues) {
  ModbusResponse r;
  if (pdu.empty()) {
    r.malformed = "empty PDU";
    return r;
  }
  r.function = pdu[0];
  if ((r.function & kExceptionBit) != 0) {
    if (pdu.size() == 2) {
      r.exception = pdu[1];
    } else {
      r.malformed = "exception response of " + std::to_string(pdu.size()) + " bytes, expected 2";
    }
    return r;
  }
  // Takes up to maxValues of `count` values; notes when some were left out.
  auto bounded = [&](std::size_t count) {
    r.valuesTruncated = count > maxValues;
    return std::min(count, maxValues);
  };
  // Checks a byte-counted response carrying `expected` data bytes.
  auto counted = [&](std::size_t expected) {
    if (pdu.size() < 2 || pdu[1] != expected || pdu.size() != 2 + expected) {
      r.malformed = std::string(functionName(r.function)) + " response of " +
                    std::to_string(pdu.size()) + " bytes does not carry " +
                    std::to_string(expected) + " data bytes";
      return false;
    }
    return true;
  };
  switch (request.function) {
    case 1:
    case 2: {
      const std::size_t count = request.read ? request.read->count : 0;
      if (counted((count + 7) / 8)) appendBits(pdu.subspan(2), bounded(count), r.values);
      break;
    }
    case 3:
    case 4:
    case 23: {
      const std::size_t count = request.read ? request.read->count : 0;
      if (counted(2 * count)) appendRegisters(pdu.subspan(2), bounded(count), r.values);
      break;
    }
    case 5:
    case 6:
    case 15:
    case 16: {
      if (pdu.size() != 5) {
        r.malformed = lengthProblem(r.function, pdu.size(), 5);
        break;
      }
      if (request.function == 5) r.values.push_back(u16(pdu, 3) == kCoilOn ? 1 : 0);
      if (request.function == 6) r.values.push_back(u16(pdu, 3));
      break;
    }
    case 22: {
      if (pdu.size() != 7) {
        r.malformed = lengthProblem(r.function, pdu.size(), 7);
        break;
      }
      r.values = {u16(pdu, 3), u16(pdu, 5)};
      break;
    }
    default:
      break;
  }
  return r;
}

std::array<std::uint8_t, 9> exceptionFrame(std::uint16_t transaction, std::uint8_t unit,
                                           std::uint8_t function, ExceptionCode code) noexcept {
  return {static_cast<std::uint8_t>(transaction >> 8),
          static_cast<std::uint8_t>(transaction & 0xff),
          0,
          0,
          0,
          3,
          unit,
          static_cast<std::uint8_t>(function | kExceptionBit),
          static_cast<std::uint8_t>(code)};
}

}  // namespace conduit::tunnel
