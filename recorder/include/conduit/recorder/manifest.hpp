#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "conduit/core/result.hpp"
#include "conduit/recorder/keys.hpp"
#include "conduit/recorder/record.hpp"

namespace conduit::recorder {

/// What a finished recording holds, signed by the broker. Written beside the recording as
/// `<file>.manifest.json`; its hash is what the audit chain anchors.
struct Manifest {
  std::string sessionId;
  std::string fileName;  // the recording's file name (no directory)
  std::uint64_t startedUnixUs = 0;
  std::uint64_t endedUnixUs = 0;
  std::uint64_t durationUs = 0;   // time of the last record
  std::uint64_t bytesIn = 0;      // payload bytes recorded
  std::uint64_t bytesOnDisk = 0;  // size of the recording file
  std::uint64_t messages = 0;     // encrypted messages, the final one included
  std::array<std::uint64_t, kRecordKindCount> recordCounts{};  // by kindIndex()
  std::array<unsigned char, 32> fileBlake2b{};
  std::array<unsigned char, 32> signerPublicKey{};
  std::array<unsigned char, 64> signature{};

  bool operator==(const Manifest&) const = default;
};

/// The bytes the signature covers: the manifest as compact JSON without the "signature"
/// member, prefixed by a domain separation line.
std::string manifestSigningBytes(const Manifest& manifest);
/// The sidecar file's text (JSON with the signature).
std::string manifestToJson(const Manifest& manifest);
/// Parses a sidecar file's text; corrupt if it is not a well-formed manifest. Bounded: texts
/// over 64 KiB are refused.
core::Result<Manifest> parseManifest(std::string_view json);
/// Signs `manifest` in place (sets signerPublicKey and signature).
core::Status signManifest(Manifest& manifest, const ManifestSigner& signer);
/// True if the signature is valid for `trustedPublicKey` (and names that key).
bool manifestSignatureValid(const Manifest& manifest,
                            std::span<const unsigned char, 32> trustedPublicKey);
/// The sidecar path of a recording: `<file>.manifest.json`.
std::filesystem::path manifestPathFor(const std::filesystem::path& recording);
/// BLAKE2b-256 of manifestToJson(manifest): the value the audit chain anchors.
std::array<unsigned char, 32> manifestDigest(const Manifest& manifest);

/// Lower-case hex of bytes.
std::string toHex(std::span<const unsigned char> bytes);

}  // namespace conduit::recorder
