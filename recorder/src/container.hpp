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

/// Appends one record (18-byte header + payload parts) to a batch body.
void appendRecord(std::vector<unsigned char>& body, std::uint64_t timeUs, std::uint32_t channel,
                  std::uint8_t kind, std::uint8_t direction, std::span<const unsigned char> head,
                  std::span<const unsigned char> tail);

}  // namespace conduit::recorder::detail
