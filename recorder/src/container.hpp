#pragma once

// The on-disk container's header and batch encodings (docs/recording-format.md), shared by the
// writer and the reader. Private to the module.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "conduit/recorder/format.hpp"

namespace conduit::recorder::detail {

/// Bytes of magic, version, flags and header length: enough to decide what a file is.
inline constexpr std::size_t kHeaderPrefixBytes = 16;

/// Encodes a header (fills header.encodedSize).
std::vector<unsigned char> encodeHeader(RecordingHeader& header);

/// Why a header did not parse.
enum class HeaderProblem { none, not_a_recording, unsupported_version, malformed };

/// Reads the 16-byte prefix: the total header length, or a problem.
HeaderProblem parseHeaderPrefix(std::span<const unsigned char, kHeaderPrefixBytes> prefix,
                                std::uint16_t& version, std::uint32_t& headerLength);
/// Parses a complete header of `bytes.size()` bytes.
HeaderProblem parseHeader(std::span<const unsigned char> bytes, RecordingHeader& out);

/// BLAKE2b-256 of the header bytes: the associated data of every message, so a changed header
/// fails the first decryption.
std::array<unsigned char, 32> headerDigest(std::span<const unsigned char> headerBytes);

/// The associated data of every message of segment `segment` (numbered from 1; segment 0 uses
/// the header digest itself): BLAKE2b-256(header digest || segment u32 LE || first message
/// u64 LE). Binding the number and the first message index makes a removed, repeated or
/// reordered segment, or a segment cut short, fail authentication or the reader's count check.
std::array<unsigned char, 32> segmentDigest(std::span<const unsigned char, 32> headerDigest,
                                            std::uint32_t segment, std::uint64_t firstMessage);

/// Appends one record (18-byte header + payload parts) to a batch body.
void appendRecord(std::vector<unsigned char>& body, std::uint64_t timeUs, std::uint32_t channel,
                  std::uint8_t kind, std::uint8_t direction, std::span<const unsigned char> head,
                  std::span<const unsigned char> tail);

}  // namespace conduit::recorder::detail
