#include "conduit/recorder/writer.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "bytes.hpp"
#include "container.hpp"

namespace conduit::recorder {

namespace {
using Clock = std::chrono::steady_clock;
using SecretStream = crypto_secretstream_xchacha20poly1305_state;

std::uint64_t unixNowUs() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

core::Error ioError(const std::string& what) {
  return core::fail(core::ErrorCode::io, what + ": " + std::strerror(errno));
}

core::Status writeAll(int fd, std::span<const unsigned char> bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError("cannot write the recording");
    }
    done += static_cast<std::size_t>(n);
  }
  return core::Done{};
}

bool isByteStream(RecordKind kind) {
  return kind == RecordKind::terminal_output || kind == RecordKind::terminal_input ||
         kind == RecordKind::tunnel_bytes;
}

// The recording's two threads (sealing, writing) do throughput work with a second of slack
// (sealInterval) and a bounded queue behind them: SCHED_BATCH keeps their fair share of the
// CPU, so they keep up as before (a higher nice value would not: under load it could starve
// them until the queue overflows and ends the session), but they no longer preempt the relay's
// threads each time they wake (docs/benchmarks.md, run G: a small gain at most on two busy
// cores, inside the spread, but background work should not preempt the data). Only from
// SCHED_OTHER: a broker run with a real-time policy keeps it here too (its relay threads have
// it, and a batch recorder could then starve). A hint: where refused, nothing else changes.
void runAsBatchWork(const char* name) noexcept {
  pthread_setname_np(pthread_self(), name);  // for top -H, perf and gdb
  int policy = 0;
  sched_param param{};
  if (pthread_getschedparam(pthread_self(), &policy, &param) == 0 && policy == SCHED_OTHER) {
    (void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
  }
}

// Below this a batch is always compressed in full: the sample test would cost as much.
constexpr std::size_t kSampleThreshold = 16u << 10;
constexpr std::size_t kSampleBytes = 4u << 10;
}  // namespace

struct RecordingWriter::State {
  WriterOptions options;
  int fd = -1;
  SecretStream* stream = nullptr;  // sodium_malloc'd: holds the stream key
  std::optional<SecretKey32> key;  // starts each segment's secretstream
  std::array<unsigned char, 32> headerHash{};
  std::array<unsigned char, 32> messageAd{};  // the current segment's associated data
  crypto_generichash_state fileHash{};
  ZSTD_CCtx* cctx = nullptr;
  Clock::time_point start;
  std::uint64_t startedUnixUs = 0;
  std::string sessionId;

  // Shared with the appending threads, under mu.
  mutable std::mutex mu;
  std::condition_variable wake;
  std::vector<unsigned char> pending;
  Clock::time_point firstPendingAt;
  std::uint64_t lastTimeUs = 0;
  bool closing = false;
  // The writer thread sleeps until the next record (rather than for one interval): the first
  // record must wake it. Otherwise append() wakes it only when wakeBytes() are queued.
  bool writerIdle = false;
  bool stopping = false;
  std::optional<core::Error> failure;

  // Writer thread only (and close() after the join).
  std::vector<unsigned char> work;
  std::vector<unsigned char> plain;
  std::vector<unsigned char> out;
  std::uint64_t bytesIn = 0;
  std::uint64_t messages = 0;
  std::uint64_t durationUs = 0;
  std::array<std::uint64_t, kRecordKindCount> counts{};
  bool lastBatchRaw = false;
  std::uint32_t segment = 0;         // segments are numbered from 0 (the header's stream)
  std::uint64_t segmentStartUs = 0;  // record time of the current segment's first record
  std::uint64_t segmentBytes = 0;    // bytes of messages in the current segment
  std::thread thread;

  // The sink: a second thread writes and hashes what the writer thread sealed, so encryption
  // and the file digest (each about 1 GiB/s of one core here) run side by side. One buffer
  // waits in the slot while the sink works on the previous one.
  std::mutex sinkMu;
  std::condition_variable sinkWake;
  std::vector<unsigned char> sinkSlot;
  bool sinkSlotFull = false;
  bool sinkStop = false;
  bool sinkFailed = false;
  std::thread sinkThread;
  // Sink thread only (and create() before, close() after the threads).
  std::vector<unsigned char> sinkLocal;
  std::uint64_t bytesOnDisk = 0;

  ~State() {
    if (fd >= 0) ::close(fd);
    sodium_free(stream);
    ZSTD_freeCCtx(cctx);
    sodium_memzero(&fileHash, sizeof fileHash);
  }

  // How much queued input wakes the writer thread before the seal interval is up: four
  // batches (256 KiB by default), sealed one by one as usual but with one wake-up of the writer
  // and one hand-off to the sink for all four. During a bulk transfer that is a quarter of the
  // threads' sleeps and wake-ups (which cost more CPU than compressing the batches of a
  // compressible stream); 256 KiB is still well under a millisecond of such a transfer, so a
  // crash loses no more than before (at most the last seal interval).
  std::size_t wakeBytes() const {
    return std::max(options.sealBytes,
                    std::min(options.sealBytes * 4, options.queueLimitBytes / 4));
  }

  // Records the first failure; returns true if this call did (then it must report it).
  bool setFailure(core::Error error) {
    std::lock_guard lk(mu);
    if (failure) return false;
    failure = std::move(error);
    return true;
  }

  void reportFailure(const core::Error& error) {
    if (setFailure(error) && options.onFailure) options.onFailure(error);
  }

  // Ends the current secretstream and starts the next one: a segment marker in `out`, a fresh
  // stream header under the same key, and the new segment's associated data.
  void startSegment(std::uint64_t firstTimeUs) {
    ++segment;
    const std::size_t at = out.size();
    out.resize(at + kSegmentMarkerBytes);
    unsigned char* p = out.data() + at;
    detail::storeU32Le(p, kSegmentMarker);
    detail::storeU32Le(p + 4, segment);
    detail::storeU64Le(p + 8, messages);
    crypto_secretstream_xchacha20poly1305_init_push(stream, p + 16, key->reveal().data());
    messageAd = detail::segmentDigest(headerHash, segment, messages);
    segmentStartUs = firstTimeUs;
    segmentBytes = 0;
  }

  bool segmentDue(std::span<const unsigned char> body) const {
    if (body.empty() || messages == 0) return false;
    const auto firstTimeUs = detail::loadU64Le(body.data());
    const auto intervalUs = static_cast<std::uint64_t>(options.segmentInterval.count()) * 1000;
    return firstTimeUs - segmentStartUs >= intervalUs || segmentBytes >= options.segmentBytes;
  }

  // Compresses (or not) one batch and appends its encrypted message to `out`, in a new segment
  // if one is due.
  void sealBatch(std::span<const unsigned char> body, std::uint32_t records, bool final) {
    if (segmentDue(body)) startSegment(detail::loadU64Le(body.data()));
    plain.resize(kBatchHeaderBytes + std::max<std::size_t>(ZSTD_compressBound(body.size()), 1));
    bool compress = true;
    // Fast path for incompressible data (encrypted or compressed payloads, random bytes):
    // after a batch that did not compress, a 4 KiB sample decides, so bulk binary input costs
    // one small zstd call per batch instead of a full one.
    if (lastBatchRaw && body.size() >= kSampleThreshold) {
      const std::size_t n = ZSTD_compressCCtx(cctx, plain.data() + kBatchHeaderBytes,
                                              plain.size() - kBatchHeaderBytes, body.data(),
                                              kSampleBytes, options.compressionLevel);
      compress = !ZSTD_isError(n) && n < kSampleBytes * 15 / 16;
    }
    std::size_t bodyBytes = body.size();
    BatchEncoding encoding = BatchEncoding::raw;
    if (compress && !body.empty()) {
      const std::size_t n = ZSTD_compressCCtx(cctx, plain.data() + kBatchHeaderBytes,
                                              plain.size() - kBatchHeaderBytes, body.data(),
                                              body.size(), options.compressionLevel);
      if (!ZSTD_isError(n) && n < body.size()) {
        encoding = BatchEncoding::zstd;
        bodyBytes = n;
      }
    }
    lastBatchRaw = encoding == BatchEncoding::raw && !body.empty();
    if (encoding == BatchEncoding::raw && !body.empty()) {
      if (plain.size() < kBatchHeaderBytes + body.size())
        plain.resize(kBatchHeaderBytes + body.size());
      std::memcpy(plain.data() + kBatchHeaderBytes, body.data(), body.size());
    }
    plain[0] = static_cast<unsigned char>(encoding);
    detail::storeU32Le(plain.data() + 1, records);
    detail::storeU32Le(plain.data() + 5, static_cast<std::uint32_t>(body.size()));
    const std::size_t plainBytes = kBatchHeaderBytes + bodyBytes;

    const std::size_t at = out.size();
    const std::size_t cipherBytes = plainBytes + crypto_secretstream_xchacha20poly1305_ABYTES;
    out.resize(at + 4 + cipherBytes);
    detail::storeU32Le(out.data() + at, static_cast<std::uint32_t>(cipherBytes));
    crypto_secretstream_xchacha20poly1305_push(
        stream, out.data() + at + 4, nullptr, plain.data(), plainBytes, messageAd.data(),
        messageAd.size(),
        final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
              : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
    ++messages;
    segmentBytes += 4 + cipherBytes;
  }

  // Hands `out` to the sink, waiting while the sink still holds the previous buffer (that wait
  // is the writer thread's, never append()'s).
  core::Status handOff() {
    if (out.empty()) return core::Done{};
    std::unique_lock lk(sinkMu);
    sinkWake.wait(lk, [this] { return !sinkSlotFull || sinkFailed; });
    if (sinkFailed) return core::fail(core::ErrorCode::io, "the recording cannot be written");
    out.swap(sinkSlot);
    sinkSlotFull = true;
    lk.unlock();
    sinkWake.notify_all();
    out.clear();
    return core::Done{};
  }

  void sinkLoop() {
    while (true) {
      {
        std::unique_lock lk(sinkMu);
        sinkWake.wait(lk, [this] { return sinkSlotFull || sinkStop; });
        if (!sinkSlotFull) return;  // stopped, and nothing left to write
        sinkLocal.swap(sinkSlot);
        sinkSlotFull = false;
      }
      sinkWake.notify_all();
      auto st = writeAll(fd, sinkLocal);
      if (!st) {
        {
          std::lock_guard lk(sinkMu);
          sinkFailed = true;
        }
        sinkWake.notify_all();
        reportFailure(st.error());
        return;
      }
      crypto_generichash_update(&fileHash, sinkLocal.data(), sinkLocal.size());
      bytesOnDisk += sinkLocal.size();
      sinkLocal.clear();
    }
  }

  void stopSink() {
    {
      std::lock_guard lk(sinkMu);
      sinkStop = true;
    }
    sinkWake.notify_all();
    sinkThread.join();
  }

  // Cuts `work` (serialised records) into batches of about sealBytes, seals them and hands them
  // to the sink in pieces of about kHandOffBytes.
  core::Status sealAll(bool final) {
    // 4 MiB: bounds the sealed bytes in flight when the writer takes a large backlog at once.
    constexpr std::size_t kHandOffBytes = 4u << 20;
    out.clear();
    std::size_t batchStart = 0;
    std::size_t pos = 0;
    std::uint32_t records = 0;
    bool sealedFinal = false;
    while (pos < work.size()) {
      const unsigned char* r = work.data() + pos;
      const auto timeUs = detail::loadU64Le(r);
      const auto kind = r[12];
      const auto len = detail::loadU32Le(r + 14);
      durationUs = std::max(durationUs, timeUs);
      bytesIn += len;
      ++counts[static_cast<std::size_t>(kind) - 1];
      pos += kRecordHeaderBytes + len;
      ++records;
      if (pos - batchStart >= options.sealBytes) {
        const bool last = final && pos == work.size();
        sealBatch({work.data() + batchStart, pos - batchStart}, records, last);
        sealedFinal = last;
        batchStart = pos;
        records = 0;
        if (out.size() >= kHandOffBytes) {
          if (auto st = handOff(); !st) return st;
        }
      }
    }
    if (records > 0) {
      sealBatch({work.data() + batchStart, pos - batchStart}, records, final);
      sealedFinal = final;
    }
    // A final call always ends with a TAG_FINAL message, empty if need be.
    if (final && !sealedFinal) sealBatch({}, 0, true);
    return handOff();
  }

  void run() {
    sinkThread = std::thread([this] {
      runAsBatchWork("rec-sink");
      sinkLoop();
    });
    // Every exit drains and stops the sink: after run() returns, all sealed bytes are written
    // (or the recording has failed).
    struct SinkGuard {
      State* s;
      ~SinkGuard() { s->stopSink(); }
    } guard{this};
    while (true) {
      bool final = false;
      bool stop = false;
      {
        std::unique_lock lk(mu);
        // When the queue was first found empty since the last seal. Until one interval after
        // that, records arriving do not wake this thread (it wakes at that time, finds them
        // and waits for their own deadline, firstPendingAt + interval, which is later): during
        // a transfer that leaves one wake-up per batch instead of two (the first record, then
        // the full batch). After a quiet interval it sleeps until the next record.
        std::optional<Clock::time_point> emptySince;
        while (true) {
          // After a failure, records accepted before it are still sealed (their append()
          // succeeded), then the thread stops.
          if (failure || closing || stopping) break;
          if (pending.size() >= wakeBytes()) break;
          if (pending.empty()) {
            const auto now = Clock::now();
            if (!emptySince) emptySince = now;
            if (now - *emptySince >= options.sealInterval) {
              writerIdle = true;
              wake.wait(lk);
              writerIdle = false;
            } else {
              wake.wait_until(lk, *emptySince + options.sealInterval);
            }
            continue;
          }
          const auto deadline = firstPendingAt + options.sealInterval;
          if (Clock::now() >= deadline) break;
          wake.wait_until(lk, deadline);
        }
        final = closing && !failure;
        stop = stopping || failure.has_value();
        work.swap(pending);
        pending.clear();
      }
      auto st = sealAll(final);
      work.clear();
      if (!st) {
        reportFailure(st.error());
        return;
      }
      if (final || stop) return;
    }
  }
};

RecordingWriter::RecordingWriter(std::unique_ptr<State> state) : s_(std::move(state)) {}

RecordingWriter::~RecordingWriter() {
  if (s_ && s_->thread.joinable()) {
    {
      std::lock_guard lk(s_->mu);
      s_->stopping = true;
    }
    s_->wake.notify_one();
    s_->thread.join();
  }
}

core::Result<std::unique_ptr<RecordingWriter>> RecordingWriter::create(WriterOptions options,
                                                                       StreamKeyWrapper& primary,
                                                                       StreamKeyWrapper* auditor) {
  if (sodium_init() < 0) return core::fail(core::ErrorCode::internal, "libsodium init failed");
  if (options.sessionId.empty() || options.sessionId.size() > kMaxIdBytes) {
    return core::fail(core::ErrorCode::invalid_argument, "session id must be 1..128 bytes");
  }
  if (options.sealBytes == 0 ||
      options.sealBytes > kMaxBatchBytes - kMaxRecordPayload - kRecordHeaderBytes) {
    return core::fail(core::ErrorCode::invalid_argument, "sealBytes out of range");
  }
  if (options.sealInterval.count() <= 0) {
    return core::fail(core::ErrorCode::invalid_argument, "sealInterval must be positive");
  }
  if (options.segmentInterval.count() <= 0 || options.segmentBytes == 0) {
    return core::fail(core::ErrorCode::invalid_argument, "segment limits must be positive");
  }
  auto s = std::make_unique<State>();
  s->options = std::move(options);
  s->sessionId = s->options.sessionId;
  s->stream = static_cast<SecretStream*>(sodium_malloc(sizeof(SecretStream)));
  s->cctx = ZSTD_createCCtx();
  if (s->stream == nullptr || s->cctx == nullptr) {
    return core::fail(core::ErrorCode::unavailable, "out of memory");
  }

  RecordingHeader header;
  header.startedUnixUs = unixNowUs();
  header.sessionId = s->sessionId;
  s->key.emplace(SecretKey32::generate());
  const auto& key = *s->key;
  std::vector<StreamKeyWrapper*> wrappers{&primary};
  if (auditor != nullptr) wrappers.push_back(auditor);
  for (auto* w : wrappers) {
    KeySlot slot;
    slot.role = w == &primary ? KeySlotRole::primary : KeySlotRole::auditor;
    slot.keyId = w->keyId();
    if (slot.keyId.empty() || slot.keyId.size() > kMaxIdBytes) {
      return core::fail(core::ErrorCode::invalid_argument, "key id must be 1..128 bytes");
    }
    auto wrapped = w->wrap(key.reveal(), s->sessionId);
    if (!wrapped) return wrapped.error();
    if (wrapped->empty() || wrapped->size() > kMaxWrappedKeyBytes) {
      return core::fail(core::ErrorCode::internal, "wrapped key size out of range");
    }
    slot.wrappedKey = std::move(*wrapped);
    header.keySlots.push_back(std::move(slot));
  }
  crypto_secretstream_xchacha20poly1305_init_push(s->stream, header.streamHeader.data(),
                                                  key.reveal().data());
  const auto headerBytes = detail::encodeHeader(header);
  s->headerHash = detail::headerDigest(headerBytes);
  s->messageAd = s->headerHash;  // segment 0: the header digest, as in version 1

  // 0600 and O_EXCL: recordings are readable by the broker only, and never overwrite one.
  s->fd = ::open(s->options.file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (s->fd < 0) {
    if (errno == EEXIST) {
      return core::fail(core::ErrorCode::already_exists,
                        "recording exists: " + s->options.file.string());
    }
    return ioError("cannot create " + s->options.file.string());
  }
  crypto_generichash_init(&s->fileHash, nullptr, 0, 32);
  if (auto st = writeAll(s->fd, headerBytes); !st) {
    ::unlink(s->options.file.c_str());
    return st.error();
  }
  crypto_generichash_update(&s->fileHash, headerBytes.data(), headerBytes.size());
  s->bytesOnDisk = headerBytes.size();
  s->startedUnixUs = header.startedUnixUs;
  s->start = Clock::now();
  s->pending.reserve(2 * s->options.sealBytes);
  s->work.reserve(2 * s->options.sealBytes);
  auto* raw = s.get();
  s->thread = std::thread([raw] {
    runAsBatchWork("rec-writer");
    raw->run();
  });
  return std::unique_ptr<RecordingWriter>(new RecordingWriter(std::move(s)));
}

std::uint64_t RecordingWriter::elapsedUs() const {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - s_->start).count());
}

std::size_t RecordingWriter::queuedBytes() const {
  std::lock_guard lk(s_->mu);
  return s_->pending.size();
}

core::Status RecordingWriter::status() const {
  std::lock_guard lk(s_->mu);
  if (s_->failure) return *s_->failure;
  return core::Done{};
}

core::Status RecordingWriter::enqueue(RecordKind kind, std::uint64_t timeUs, std::uint32_t channel,
                                      Direction direction, std::span<const unsigned char> head,
                                      std::span<const unsigned char> body) {
  const std::size_t need = kRecordHeaderBytes + head.size() + body.size();
  bool notify = false;
  std::optional<core::Error> overflow;
  {
    std::lock_guard lk(s_->mu);
    if (s_->failure) {
      return core::fail(core::ErrorCode::unavailable,
                        "recording has failed: " + s_->failure->message);
    }
    if (s_->closing || s_->stopping) {
      return core::fail(core::ErrorCode::conflict, "recording is closed");
    }
    if (s_->pending.size() + need > s_->options.queueLimitBytes) {
      // The first failure is reported by whoever records it: here, this call.
      overflow = core::fail(core::ErrorCode::unavailable,
                            "recording queue overflow: the disk does not keep up");
      s_->failure = overflow;
    } else {
      const bool wasEmpty = s_->pending.empty();
      if (wasEmpty) s_->firstPendingAt = Clock::now();
      const auto t = std::max(timeUs, s_->lastTimeUs);
      s_->lastTimeUs = t;
      const std::size_t before = s_->pending.size();
      detail::appendRecord(s_->pending, t, channel, static_cast<std::uint8_t>(kind),
                           static_cast<std::uint8_t>(direction), head, body);
      notify = (wasEmpty && s_->writerIdle) ||
               (before < s_->wakeBytes() && s_->pending.size() >= s_->wakeBytes());
    }
  }
  if (overflow) {
    s_->wake.notify_one();  // the writer thread sees the failure and stops
    if (s_->options.onFailure) s_->options.onFailure(*overflow);
    return core::fail(core::ErrorCode::unavailable, overflow->message);
  }
  if (notify) s_->wake.notify_one();
  return core::Done{};
}

core::Status RecordingWriter::append(RecordKind kind, std::uint32_t channel, Direction direction,
                                     std::span<const unsigned char> payload) {
  const auto t = elapsedUs();
  if (!isByteStream(kind)) {
    if (payload.size() > kMaxRecordPayload) {
      return core::fail(core::ErrorCode::invalid_argument,
                        std::string(recordKindName(kind)) + " payload over the 1 MiB limit");
    }
    return enqueue(kind, t, channel, direction, {}, payload);
  }
  // Byte streams are split: a reader never has to hold more than kMaxRecordPayload at once.
  do {
    const auto n = std::min(payload.size(), kMaxRecordPayload);
    if (auto st = enqueue(kind, t, channel, direction, {}, payload.first(n)); !st) return st;
    payload = payload.subspan(n);
  } while (!payload.empty());
  return core::Done{};
}

core::Status RecordingWriter::append(const Record& record) {
  if (!recordKindFromByte(static_cast<std::uint8_t>(record.kind)) ||
      !directionFromByte(static_cast<std::uint8_t>(record.direction))) {
    return core::fail(core::ErrorCode::invalid_argument, "unknown record kind or direction");
  }
  if (record.payload.size() > kMaxRecordPayload) {
    if (!isByteStream(record.kind)) {
      return core::fail(core::ErrorCode::invalid_argument, "record payload over the 1 MiB limit");
    }
    if (record.kind == RecordKind::tunnel_bytes) {
      const auto chunk = decodeTunnelBytes(record.payload);
      if (!chunk) return core::fail(core::ErrorCode::invalid_argument, "bad tunnel prefix");
      return appendTunnelBytes(record.channel, record.direction, chunk->tuple, chunk->bytes);
    }
  }
  std::span<const unsigned char> payload = record.payload;
  do {
    const auto n = std::min(payload.size(), kMaxRecordPayload);
    if (auto st = enqueue(record.kind, record.timeUs, record.channel, record.direction, {},
                          payload.first(n));
        !st) {
      return st;
    }
    payload = payload.subspan(n);
  } while (!payload.empty());
  return core::Done{};
}

core::Status RecordingWriter::appendTunnelBytes(std::uint32_t channel, Direction direction,
                                                const TcpFourTuple& tuple,
                                                std::span<const unsigned char> bytes) {
  const auto t = elapsedUs();
  const auto prefix = encodeTunnelPrefix(tuple);
  const auto room = kMaxRecordPayload - prefix.size;
  do {
    const auto n = std::min(bytes.size(), room);
    if (auto st =
            enqueue(RecordKind::tunnel_bytes, t, channel, direction, prefix.view(), bytes.first(n));
        !st) {
      return st;
    }
    bytes = bytes.subspan(n);
  } while (!bytes.empty());
  return core::Done{};
}

core::Result<Manifest> RecordingWriter::close(const ManifestSigner& signer) {
  if (!s_->thread.joinable()) {
    return core::fail(core::ErrorCode::conflict, "recording is already closed");
  }
  {
    std::lock_guard lk(s_->mu);
    s_->closing = true;
  }
  s_->wake.notify_one();
  s_->thread.join();
  if (auto st = status(); !st) return st.error();

  if (::fsync(s_->fd) != 0) {
    auto e = ioError("cannot fsync the recording");
    s_->reportFailure(e);
    return e;
  }
  ::close(s_->fd);
  s_->fd = -1;

  Manifest m;
  m.sessionId = s_->sessionId;
  m.fileName = s_->options.file.filename().string();
  m.startedUnixUs = s_->startedUnixUs;
  m.endedUnixUs = unixNowUs();
  m.durationUs = s_->durationUs;
  m.bytesIn = s_->bytesIn;
  m.bytesOnDisk = s_->bytesOnDisk;
  m.messages = s_->messages;
  m.recordCounts = s_->counts;
  crypto_generichash_final(&s_->fileHash, m.fileBlake2b.data(), m.fileBlake2b.size());
  if (auto st = signManifest(m, signer); !st) return st.error();

  // Written to a temporary name, synced, then renamed: a crash leaves either no manifest or a
  // complete one, never half of one.
  const auto path = manifestPathFor(s_->options.file);
  const auto tmp = path.string() + ".tmp";
  const auto text = manifestToJson(m);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ioError("cannot create " + tmp);
  auto st = writeAll(fd, {reinterpret_cast<const unsigned char*>(text.data()), text.size()});
  const bool synced = st && ::fsync(fd) == 0;
  ::close(fd);
  if (!st || !synced || ::rename(tmp.c_str(), path.c_str()) != 0) {
    auto e = st ? ioError("cannot write " + path.string()) : st.error();
    ::unlink(tmp.c_str());
    return e;
  }
  const auto dir = s_->options.file.has_parent_path() ? s_->options.file.parent_path().string()
                                                      : std::string(".");
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);  // makes the recording's and the manifest's directory entries durable
    ::close(dfd);
  }
  return m;
}

}  // namespace conduit::recorder
