#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace conduit::recorder {

// The container's constants (docs/recording-format.md). Readers refuse anything over a limit
// instead of allocating for it: a hostile file must not make the reader allocate gigabytes.

/// "\x89CREC\r\n\x1a": a non-ASCII first byte and CR LF SUB catch text-mode mangling.
inline constexpr std::array<unsigned char, 8> kMagic = {0x89, 'C', 'R', 'E', 'C', '\r', '\n', 0x1a};
/// The format version this code writes: 2 adds segment markers (seek points) between messages.
inline constexpr std::uint16_t kFormatVersion = 2;
/// The oldest version this code still reads: version 1 files are version 2 files with a single
/// segment and no markers.
inline constexpr std::uint16_t kOldestFormatVersion = 1;
/// Header bytes at most (magic to secretstream header inclusive).
inline constexpr std::size_t kMaxHeaderBytes = 4096;
/// Session and key ids: 1..128 bytes.
inline constexpr std::size_t kMaxIdBytes = 128;
/// Wrapped stream keys per header (the vault's and up to three auditors').
inline constexpr std::size_t kMaxKeySlots = 4;
/// Bytes of one wrapped key.
inline constexpr std::size_t kMaxWrappedKeyBytes = 512;
/// Payload bytes of one record; the writer splits longer byte streams. 1 MiB: an RDP tile or
/// a relay buffer fits; anything larger is split or refused.
inline constexpr std::size_t kMaxRecordPayload = 1u << 20;
/// Uncompressed bytes of one batch: the seal threshold plus one maximal record, rounded up.
inline constexpr std::size_t kMaxBatchBytes = 2u << 20;
/// Records per batch (an 18-byte header each bounds this anyway; the cap keeps counts sane).
inline constexpr std::size_t kMaxRecordsPerBatch = kMaxBatchBytes / 18;
/// Bytes of a record header inside a batch.
inline constexpr std::size_t kRecordHeaderBytes = 18;
/// Bytes of a batch header (encoding u8, record count u32, raw length u32).
inline constexpr std::size_t kBatchHeaderBytes = 9;
/// The value in a message's length field that announces a segment marker instead (version 2):
/// no message is that long.
inline constexpr std::uint32_t kSegmentMarker = 0xffffffff;
/// Bytes of a segment marker: the 0xffffffff field, segment number u32, first message index
/// u64, secretstream header (24).
inline constexpr std::size_t kSegmentMarkerBytes = 4 + 4 + 8 + 24;

/// How a batch body is stored.
enum class BatchEncoding : std::uint8_t { raw = 0, zstd = 1 };

/// Who a wrapped key is for.
enum class KeySlotRole : std::uint8_t { primary = 1, auditor = 2 };

/// One wrapped copy of the stream key.
struct KeySlot {
  KeySlotRole role = KeySlotRole::primary;
  std::string keyId;
  std::vector<unsigned char> wrappedKey;
};

/// The clear-text header of a recording.
struct RecordingHeader {
  std::uint16_t formatVersion = kFormatVersion;
  std::uint64_t startedUnixUs = 0;
  std::string sessionId;
  std::vector<KeySlot> keySlots;
  std::array<unsigned char, 24> streamHeader{};  // crypto_secretstream header
  std::size_t encodedSize = 0;                   // bytes the header takes in the file
};

}  // namespace conduit::recorder
