#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/recorder/format.hpp"
#include "conduit/recorder/keys.hpp"
#include "conduit/recorder/manifest.hpp"
#include "conduit/recorder/record.hpp"

namespace conduit::recorder {

/// The outcome of reading or verifying a recording. Stable names via verdictName().
enum class Verdict {
  intact,               // every message authentic, in order, ending with the final tag
  truncated,            // authentic up to a point, then the file ends (a crash)
  corrupt,              // a message fails authentication, is out of order, or is malformed
  wrong_key,            // none of the given keys unwraps the stream key
  unsupported_version,  // a recording of a format version this code does not read
  not_a_recording,      // not a .crec file (bad magic or malformed header)
  io_error,             // the file cannot be read
  manifest_missing,     // no <file>.manifest.json
  manifest_invalid,     // the manifest does not parse
  bad_signature,        // the manifest's signature is not the trusted key's
  manifest_mismatch,    // the signed manifest does not describe this file
};

/// Stable name of a verdict, e.g. "truncated".
std::string_view verdictName(Verdict verdict) noexcept;

/// A verdict and a message for people ("truncated at 1.503 s after 12 messages").
struct ReadStatus {
  Verdict verdict = Verdict::intact;
  std::string message;
};

/// Something the reader gets bytes from (a file, or memory for the fuzzer).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  /// Reads up to out.size() bytes; returns how many (0 at the end), or -1 on an I/O error.
  virtual long read(std::span<unsigned char> out) = 0;
  /// Moves to absolute byte `offset`; false if this source cannot (the default) or fails.
  virtual bool seekTo(std::uint64_t /*offset*/) { return false; }
};

/// Where a reader can start without reading the messages before it: the start of a
/// secretstream segment (docs/recording-format.md, "Segments and seeking").
struct SeekPoint {
  std::uint64_t messageIndex = 0;  // index (from 0) of the segment's first message in the file
  std::uint64_t atUs = 0;          // time of the segment's first record
  std::uint64_t offset = 0;        // file offset of its marker (of message 0 for segment 0)
  bool operator==(const SeekPoint&) const = default;
};

/// Reads records from a recording, checking every message as it goes. Never crashes on hostile
/// input and never allocates more than the format's limits.
class RecordingReader {
 public:
  /// Opens `file` and unwraps its stream key with the first of `keys` whose keyId() matches a
  /// key slot. Check status(): if it is not intact, next() yields nothing.
  RecordingReader(const std::filesystem::path& file, std::span<const StreamKeyWrapper* const> keys);
  /// Same, over any byte source.
  RecordingReader(std::unique_ptr<ByteSource> source,
                  std::span<const StreamKeyWrapper* const> keys);
  ~RecordingReader();
  RecordingReader(RecordingReader&&) noexcept;
  RecordingReader& operator=(RecordingReader&&) noexcept;

  /// The next record, or nullopt at the end of the readable part; then status() says whether
  /// the recording is intact, truncated or corrupt.
  std::optional<Record> next();
  /// The verdict so far; final once next() has returned nullopt.
  const ReadStatus& status() const;
  /// True once the reader has stopped (end, truncation or an error).
  bool finished() const;
  /// The header (valid if the header parsed).
  const RecordingHeader& header() const;
  /// Time of the last record returned.
  std::uint64_t lastTimeUs() const;
  /// Authentic messages read so far.
  std::uint64_t messages() const;
  /// Bytes consumed from the source so far.
  std::uint64_t bytesRead() const;

  /// The segment starts read so far, in file order, each added when its first record is
  /// returned by next() (segment 0 first; a version 1 file has only that one). These are what
  /// the database's seek index stores.
  const std::vector<SeekPoint>& seekPoints() const;
  /// Continues at the segment starting at `point.offset` (a point from seekPoints(), e.g. kept
  /// in the database): the messages before it are skipped, not read or decrypted; next()
  /// returns the segment's records and reading ends as usual (intact at the final message).
  /// Needs a file (or a seekable source) whose key was unwrapped. Returns false, with
  /// status() corrupt, if no segment with `point.messageIndex` starts there; the reader is
  /// then finished (a caller falls back to reading from the start).
  bool seek(const SeekPoint& point);

  struct State;

 private:
  std::unique_ptr<State> s_;
};

/// Reads every record of a recording into memory (tests and small exports).
struct ReadAll {
  ReadStatus status;
  RecordingHeader header;
  std::vector<Record> records;
};
/// Reads `file` completely with `keys`.
ReadAll readAll(const std::filesystem::path& file, std::span<const StreamKeyWrapper* const> keys);

/// The clear-text header of a recording, read without any key (for listings and for finding
/// the session before its keys). status is intact if the header is well-formed; the messages are
/// not checked.
struct HeaderOnly {
  ReadStatus status;
  RecordingHeader header;
};
/// Reads just the header of `file`.
HeaderOnly readHeader(const std::filesystem::path& file);

/// What verify found.
struct VerifyReport {
  ReadStatus status;
  RecordingHeader header;
  std::uint64_t records = 0;
  std::uint64_t lastTimeUs = 0;
  std::optional<Manifest> manifest;
  /// BLAKE2b-256 of the manifest file, for the audit anchor check (all zero if none).
  std::array<unsigned char, 32> manifestDigest{};
};

/// Checks a recording end to end: every message decrypts in order up to TAG_FINAL, then the
/// sidecar manifest parses, is signed by `trustedSigner`, and matches the file (digest, size,
/// session id, record counts, duration). Anchoring the manifest in the audit chain is the
/// caller's check (compare manifestDigest with the anchored value).
VerifyReport verifyRecording(const std::filesystem::path& file,
                             std::span<const StreamKeyWrapper* const> keys,
                             std::span<const unsigned char, 32> trustedSigner);

}  // namespace conduit::recorder
