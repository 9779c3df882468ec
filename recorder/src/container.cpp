#include "container.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "bytes.hpp"

namespace conduit::recorder::detail {

namespace {
bool printableId(const std::string& id) {
  return !id.empty() && id.size() <= kMaxIdBytes &&
         std::all_of(id.begin(), id.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}
}  // namespace

std::vector<unsigned char> encodeHeader(RecordingHeader& header) {
  std::vector<unsigned char> out(kMagic.begin(), kMagic.end());
  putU16Le(out, header.formatVersion);
  putU16Le(out, 0);  // flags: none defined
  putU32Le(out, 0);  // header length, patched below
  putU64Le(out, header.startedUnixUs);
  out.push_back(static_cast<unsigned char>(header.sessionId.size()));
  out.insert(out.end(), header.sessionId.begin(), header.sessionId.end());
  out.push_back(static_cast<unsigned char>(header.keySlots.size()));
  for (const auto& slot : header.keySlots) {
    out.push_back(static_cast<unsigned char>(slot.role));
    out.push_back(static_cast<unsigned char>(slot.keyId.size()));
    out.insert(out.end(), slot.keyId.begin(), slot.keyId.end());
    putU16Le(out, static_cast<std::uint16_t>(slot.wrappedKey.size()));
    out.insert(out.end(), slot.wrappedKey.begin(), slot.wrappedKey.end());
  }
  out.insert(out.end(), header.streamHeader.begin(), header.streamHeader.end());
  storeU32Le(out.data() + 12, static_cast<std::uint32_t>(out.size()));
  header.encodedSize = out.size();
  return out;
}

HeaderProblem parseHeaderPrefix(std::span<const unsigned char, kHeaderPrefixBytes> prefix,
                                std::uint16_t& version, std::uint32_t& headerLength) {
  if (!std::equal(kMagic.begin(), kMagic.end(), prefix.begin())) {
    return HeaderProblem::not_a_recording;
  }
  version = loadU16Le(prefix.data() + 8);
  if (version < kOldestFormatVersion || version > kFormatVersion) {
    return HeaderProblem::unsupported_version;
  }
  if (loadU16Le(prefix.data() + 10) != 0) return HeaderProblem::malformed;
  headerLength = loadU32Le(prefix.data() + 12);
  // Smallest header: prefix, start time, 1-byte session id, slot count, one slot with a 1-byte
  // key id and a 1-byte wrapped key, stream header.
  constexpr std::size_t kMinHeader =
      kHeaderPrefixBytes + 8 + (1 + 1) + 1 + (1 + 1 + 1 + 2 + 1) + 24;
  if (headerLength < kMinHeader || headerLength > kMaxHeaderBytes) return HeaderProblem::malformed;
  return HeaderProblem::none;
}

HeaderProblem parseHeader(std::span<const unsigned char> bytes, RecordingHeader& out) {
  if (bytes.size() < kHeaderPrefixBytes) return HeaderProblem::not_a_recording;
  std::uint16_t version = 0;
  std::uint32_t length = 0;
  const auto p = parseHeaderPrefix(bytes.first<kHeaderPrefixBytes>(), version, length);
  if (p != HeaderProblem::none) return p;
  if (length != bytes.size()) return HeaderProblem::malformed;
  Cursor c(bytes);
  c.take(kHeaderPrefixBytes);
  out.formatVersion = version;
  out.startedUnixUs = c.u64Le();
  out.sessionId = c.string(c.u8());
  if (!printableId(out.sessionId)) return HeaderProblem::malformed;
  const auto slots = c.u8();
  if (slots < 1 || slots > kMaxKeySlots) return HeaderProblem::malformed;
  out.keySlots.clear();
  for (unsigned i = 0; i < slots; ++i) {
    KeySlot slot;
    const auto role = c.u8();
    if (role != 1 && role != 2) return HeaderProblem::malformed;
    slot.role = static_cast<KeySlotRole>(role);
    slot.keyId = c.string(c.u8());
    if (!printableId(slot.keyId)) return HeaderProblem::malformed;
    const auto wlen = c.u16Le();
    if (wlen < 1 || wlen > kMaxWrappedKeyBytes) return HeaderProblem::malformed;
    const auto w = c.take(wlen);
    slot.wrappedKey.assign(w.begin(), w.end());
    if (c.failed()) return HeaderProblem::malformed;
    out.keySlots.push_back(std::move(slot));
  }
  const auto sh = c.take(out.streamHeader.size());
  if (c.failed() || c.remaining() != 0) return HeaderProblem::malformed;
  std::copy(sh.begin(), sh.end(), out.streamHeader.begin());
  out.encodedSize = bytes.size();
  return HeaderProblem::none;
}

std::array<unsigned char, 32> headerDigest(std::span<const unsigned char> headerBytes) {
  std::array<unsigned char, 32> h{};
  crypto_generichash(h.data(), h.size(), headerBytes.data(), headerBytes.size(), nullptr, 0);
  return h;
}

std::array<unsigned char, 32> segmentDigest(std::span<const unsigned char, 32> headerDigest,
                                            std::uint32_t segment, std::uint64_t firstMessage) {
  std::array<unsigned char, 32 + 4 + 8> in{};
  std::memcpy(in.data(), headerDigest.data(), 32);
  storeU32Le(in.data() + 32, segment);
  storeU64Le(in.data() + 36, firstMessage);
  std::array<unsigned char, 32> h{};
  crypto_generichash(h.data(), h.size(), in.data(), in.size(), nullptr, 0);
  return h;
}

void appendRecord(std::vector<unsigned char>& body, std::uint64_t timeUs, std::uint32_t channel,
                  std::uint8_t kind, std::uint8_t direction, std::span<const unsigned char> head,
                  std::span<const unsigned char> tail) {
  std::array<unsigned char, kRecordHeaderBytes> h{};
  storeU64Le(h.data(), timeUs);
  storeU32Le(h.data() + 8, channel);
  h[12] = kind;
  h[13] = direction;
  storeU32Le(h.data() + 14, static_cast<std::uint32_t>(head.size() + tail.size()));
  // Appended range by range rather than resize() and copied: resize() would first zero every
  // byte the copy then overwrites (measured: as much time as the copy itself on bulk relays).
  // Room for all three first (growing geometrically), so that a failed allocation leaves the
  // queue as it was, never a header without its payload.
  const std::size_t need = body.size() + h.size() + head.size() + tail.size();
  if (body.capacity() < need) body.reserve(std::max(need, 2 * body.capacity()));
  body.insert(body.end(), h.begin(), h.end());
  body.insert(body.end(), head.begin(), head.end());
  body.insert(body.end(), tail.begin(), tail.end());
}

}  // namespace conduit::recorder::detail
