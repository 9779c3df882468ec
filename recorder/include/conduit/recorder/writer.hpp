#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "conduit/core/result.hpp"
#include "conduit/recorder/keys.hpp"
#include "conduit/recorder/manifest.hpp"
#include "conduit/recorder/record.hpp"

namespace conduit::recorder {

/// How a recording is written. Every limit is explicit.
struct WriterOptions {
  std::filesystem::path file{};  // created; must not exist
  std::string sessionId{};       // 1..128 bytes
  // 64 MiB: about 60 ms of a 1 GiB/s bulk transfer; a disk that stalls longer than that ends
  // the session (fail closed) instead of letting memory grow without bound.
  std::size_t queueLimitBytes = 64u << 20;
  // 1 s: a crash loses at most about one second of the session (issue 6 item 2).
  std::chrono::milliseconds sealInterval{1000};
  // 64 KiB: small enough to keep the crash window short under load, large enough for zstd
  // and for one encryption per batch to be cheap.
  std::size_t sealBytes = 64u << 10;
  // zstd level 1: fast enough for 1 GiB/s of input; terminal text still compresses ~5-10x.
  int compressionLevel = 1;
  // A new secretstream segment (a seek point, docs/recording-format.md) starts with the first
  // batch sealed at least this long (in record time) after the current segment began...
  // 5 s: "jump to minute 45" then decrypts at most about 5 s of the session; a segment costs
  // 40 bytes and one key setup.
  std::chrono::milliseconds segmentInterval{5000};
  // ...or once the current segment holds this many bytes of messages. 64 MiB: a seek into a
  // bulk transfer decrypts at most about 60 ms of data.
  std::size_t segmentBytes = 64u << 20;
  /// Called once, from a writer thread or from append(), when the recording fails (queue
  /// overflow, disk full, I/O error). The session must end: nothing after it is recorded.
  std::function<void(const core::Error&)> onFailure{};
};

/// Writes one `.crec` recording (docs/recording-format.md): a header, then
/// crypto_secretstream_xchacha20poly1305 messages each holding a zstd-compressed (or, when
/// incompressible, raw) batch of records. append() only copies into a bounded queue and never
/// blocks on the disk; a writer thread seals batches and a sink thread writes and hashes them.
class RecordingWriter {
 public:
  /// Creates the file (mode 0600), wraps a fresh stream key with `primary` (and with `auditor`
  /// if given: "encryption to auditors") and starts the writer thread. Fails with
  /// already_exists, io or invalid_argument; the wrappers are used only during create().
  static core::Result<std::unique_ptr<RecordingWriter>> create(WriterOptions options,
                                                               StreamKeyWrapper& primary,
                                                               StreamKeyWrapper* auditor = nullptr);

  /// Stops the writer thread. A recording that was not close()d keeps its last sealed batch
  /// but no final tag: readers report it as truncated, which is the truth.
  ~RecordingWriter();
  RecordingWriter(const RecordingWriter&) = delete;
  RecordingWriter& operator=(const RecordingWriter&) = delete;

  /// Queues a record stamped with the current time. Never blocks on I/O. Fails with
  /// unavailable once the recording has failed (the queue overflowed or the disk failed; the
  /// failure callback has then been called) and invalid_argument for a structured payload
  /// over kMaxRecordPayload (byte streams are split instead).
  core::Status append(RecordKind kind, std::uint32_t channel, Direction direction,
                      std::span<const unsigned char> payload);
  /// Queues a record with the caller's time (clamped so times never go backwards).
  core::Status append(const Record& record);
  /// Queues tunnel bytes with their 4-tuple without building the payload first.
  core::Status appendTunnelBytes(std::uint32_t channel, Direction direction,
                                 const TcpFourTuple& tuple, std::span<const unsigned char> bytes);

  /// Microseconds since the recording started (the clock append() stamps with).
  std::uint64_t elapsedUs() const;
  /// Bytes queued and not yet taken by the writer thread. A relay can stop reading from its
  /// peer while this is high (backpressure) so the queue limit, which fails the recording, is
  /// only the last resort.
  std::size_t queuedBytes() const;
  /// Ok while the recording is healthy; the first failure otherwise.
  core::Status status() const;

  /// Drains the queue, writes the final message (TAG_FINAL), fsyncs, and writes the signed
  /// manifest beside the file. Fails if the recording had failed or any step fails; the
  /// recording then has no valid manifest.
  core::Result<Manifest> close(const ManifestSigner& signer);

  struct State;

 private:
  explicit RecordingWriter(std::unique_ptr<State> state);
  core::Status enqueue(RecordKind kind, std::uint64_t timeUs, std::uint32_t channel,
                       Direction direction, std::span<const unsigned char> head,
                       std::span<const unsigned char> body);
  std::unique_ptr<State> s_;
};

}  // namespace conduit::recorder
