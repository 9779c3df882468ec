#include "conduit/recorder/reader.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "bytes.hpp"
#include "container.hpp"

namespace conduit::recorder {

namespace {
using SecretStream = crypto_secretstream_xchacha20poly1305_state;
constexpr std::size_t kAbytes = crypto_secretstream_xchacha20poly1305_ABYTES;
// The largest message a writer produces: a raw batch of kMaxBatchBytes (a compressed batch is
// only stored when smaller than its raw form).
constexpr std::size_t kMaxMessageBytes = kBatchHeaderBytes + kMaxBatchBytes + kAbytes;

class FileSource final : public ByteSource {
 public:
  explicit FileSource(const std::filesystem::path& file)
      : fd_(::open(file.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~FileSource() override {
    if (fd_ >= 0) ::close(fd_);
  }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  bool ok() const { return fd_ >= 0; }
  long read(std::span<unsigned char> out) override {
    while (true) {
      const ssize_t n = ::read(fd_, out.data(), out.size());
      if (n < 0 && errno == EINTR) continue;
      return static_cast<long>(n);
    }
  }
  bool seekTo(std::uint64_t offset) override {
    return offset <= static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()) &&
           ::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) == static_cast<off_t>(offset);
  }

 private:
  int fd_;
};

// Hashes and counts everything read through it (verify's single pass over the file).
class HashingSource final : public ByteSource {
 public:
  explicit HashingSource(std::unique_ptr<ByteSource> inner) : inner_(std::move(inner)) {
    crypto_generichash_init(&state_, nullptr, 0, 32);
  }
  long read(std::span<unsigned char> out) override {
    const long n = inner_->read(out);
    if (n > 0) {
      crypto_generichash_update(&state_, out.data(), static_cast<std::size_t>(n));
      total_ += static_cast<std::uint64_t>(n);
    }
    return n;
  }
  std::array<unsigned char, 32> digest() {
    std::array<unsigned char, 32> h{};
    crypto_generichash_final(&state_, h.data(), h.size());
    return h;
  }
  std::uint64_t total() const { return total_; }

 private:
  std::unique_ptr<ByteSource> inner_;
  crypto_generichash_state state_{};
  std::uint64_t total_ = 0;
};

std::string seconds(std::uint64_t us) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%llu.%03llu s", static_cast<unsigned long long>(us / 1000000),
                static_cast<unsigned long long>((us / 1000) % 1000));
  return buf;
}
}  // namespace

std::string_view verdictName(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::intact:
      return "intact";
    case Verdict::truncated:
      return "truncated";
    case Verdict::corrupt:
      return "corrupt";
    case Verdict::wrong_key:
      return "wrong_key";
    case Verdict::unsupported_version:
      return "unsupported_version";
    case Verdict::not_a_recording:
      return "not_a_recording";
    case Verdict::io_error:
      return "io_error";
    case Verdict::manifest_missing:
      return "manifest_missing";
    case Verdict::manifest_invalid:
      return "manifest_invalid";
    case Verdict::bad_signature:
      return "bad_signature";
    case Verdict::manifest_mismatch:
      return "manifest_mismatch";
  }
  return "unknown";
}

struct RecordingReader::State {
  std::unique_ptr<ByteSource> source;
  ReadStatus status;
  bool finished = false;
  RecordingHeader header;
  SecretStream* stream = nullptr;
  std::optional<SecretKey32> key;  // kept to start each segment's secretstream
  std::array<unsigned char, 32> headerHash{};
  std::array<unsigned char, 32> messageAd{};  // the current segment's associated data
  std::uint32_t segment = 0;
  std::uint64_t segmentFirstMessage = 0;
  std::optional<SeekPoint> pendingPoint;  // a segment whose first record is not read yet
  std::vector<SeekPoint> seekPoints;
  std::uint64_t position = 0;  // absolute file offset of the next byte
  ZSTD_DCtx* dctx = nullptr;
  std::vector<unsigned char> cipher;
  std::vector<unsigned char> plain;
  std::vector<unsigned char> decompressed;
  std::span<const unsigned char> body;
  std::size_t bodyPos = 0;
  std::uint32_t recordsLeft = 0;
  bool sawFinal = false;
  std::uint64_t lastTimeUs = 0;
  std::uint64_t messages = 0;
  std::uint64_t bytesRead = 0;

  ~State() {
    sodium_free(stream);
    ZSTD_freeDCtx(dctx);
  }

  void stop(Verdict v, std::string message) {
    status = {v, std::move(message)};
    finished = true;
  }
  void truncated(const std::string& where) {
    stop(Verdict::truncated, "truncated at " + seconds(lastTimeUs) + ": " + where + " after " +
                                 std::to_string(messages) + " authentic messages");
  }

  // Reads exactly out.size() bytes unless the source ends; returns the count, -1 on error.
  long readExact(std::span<unsigned char> out) {
    std::size_t got = 0;
    while (got < out.size()) {
      const long n = source->read(out.subspan(got));
      if (n < 0) return -1;
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    bytesRead += got;
    position += got;
    return static_cast<long>(got);
  }

  void open(std::span<const StreamKeyWrapper* const> keys) {
    std::array<unsigned char, detail::kHeaderPrefixBytes> prefix{};
    const long n = readExact(prefix);
    if (n < 0) return stop(Verdict::io_error, "cannot read the file");
    if (static_cast<std::size_t>(n) < prefix.size()) {
      return stop(Verdict::not_a_recording, "too short to be a recording");
    }
    std::uint16_t version = 0;
    std::uint32_t length = 0;
    switch (detail::parseHeaderPrefix(prefix, version, length)) {
      case detail::HeaderProblem::none:
        break;
      case detail::HeaderProblem::not_a_recording:
        return stop(Verdict::not_a_recording, "not a recording (bad magic)");
      case detail::HeaderProblem::unsupported_version:
        return stop(Verdict::unsupported_version,
                    "recording format version " + std::to_string(version) +
                        " is not supported (this build reads versions " +
                        std::to_string(kOldestFormatVersion) + " to " +
                        std::to_string(kFormatVersion) + ")");
      case detail::HeaderProblem::malformed:
        return stop(Verdict::not_a_recording, "malformed recording header");
    }
    std::vector<unsigned char> bytes(length);
    std::memcpy(bytes.data(), prefix.data(), prefix.size());
    const long m = readExact(std::span(bytes).subspan(prefix.size()));
    if (m < 0) return stop(Verdict::io_error, "cannot read the file");
    if (static_cast<std::size_t>(m) != length - prefix.size()) {
      return stop(Verdict::truncated, "truncated at 0.000 s: the file ends inside the header");
    }
    if (detail::parseHeader(bytes, header) != detail::HeaderProblem::none) {
      return stop(Verdict::not_a_recording, "malformed recording header");
    }
    headerHash = detail::headerDigest(bytes);

    std::string lastError;
    for (const auto& slot : header.keySlots) {
      for (const auto* w : keys) {
        if (w == nullptr || w->keyId() != slot.keyId) continue;
        auto k = w->unwrap(slot.wrappedKey, header.sessionId);
        if (k) {
          key = std::move(*k);
          break;
        }
        lastError = k.error().message;
      }
      if (key) break;
    }
    if (!key) {
      std::string ids;
      for (const auto& slot : header.keySlots) ids += (ids.empty() ? "" : ", ") + slot.keyId;
      return stop(Verdict::wrong_key,
                  lastError.empty() ? "no given key matches the recording's keys (" + ids + ")"
                                    : "cannot unwrap the stream key: " + lastError);
    }
    stream = static_cast<SecretStream*>(sodium_malloc(sizeof(SecretStream)));
    dctx = ZSTD_createDCtx();
    if (stream == nullptr || dctx == nullptr) return stop(Verdict::io_error, "out of memory");
    if (crypto_secretstream_xchacha20poly1305_init_pull(stream, header.streamHeader.data(),
                                                        key->reveal().data()) != 0) {
      return stop(Verdict::corrupt, "invalid stream header");
    }
    messageAd = headerHash;
    pendingPoint = SeekPoint{0, 0, header.encodedSize};
  }

  // Reads the rest of a segment marker whose 0xffffffff field started at `at` and starts that
  // segment's secretstream. `expectedFirst` is the message index it must carry. False when
  // reading stops.
  bool startSegment(std::uint64_t at, std::uint64_t expectedFirst, bool seeking) {
    const std::string where = "segment marker at offset " + std::to_string(at);
    if (header.formatVersion < 2) {
      stop(Verdict::corrupt, where + " in a version 1 recording");
      return false;
    }
    std::array<unsigned char, kSegmentMarkerBytes - 4> rest{};
    const long n = readExact(rest);
    if (n < 0) {
      stop(Verdict::io_error, "cannot read the file");
      return false;
    }
    if (static_cast<std::size_t>(n) < rest.size()) {
      truncated("the file ends inside a segment marker");
      return false;
    }
    const auto number = detail::loadU32Le(rest.data());
    const auto first = detail::loadU64Le(rest.data() + 4);
    if (seeking
            ? first != expectedFirst
            : number != segment + 1 || first != expectedFirst || messages == segmentFirstMessage) {
      stop(Verdict::corrupt, where + " is out of place (a segment was removed, repeated, " +
                                 "reordered or cut short)");
      return false;
    }
    if (crypto_secretstream_xchacha20poly1305_init_pull(stream, rest.data() + 12,
                                                        key->reveal().data()) != 0) {
      stop(Verdict::corrupt, where + " has an invalid stream header");
      return false;
    }
    segment = number;
    segmentFirstMessage = first;
    messages = first;
    messageAd = detail::segmentDigest(headerHash, number, first);
    pendingPoint = SeekPoint{first, 0, at};
    return true;
  }

  bool seek(const SeekPoint& point) {
    if (!key || stream == nullptr || source == nullptr) return false;  // never opened
    finished = false;
    status = {};
    recordsLeft = 0;
    body = {};
    bodyPos = 0;
    sawFinal = false;
    lastTimeUs = 0;
    seekPoints.clear();
    const std::string mismatch = "no segment with message " + std::to_string(point.messageIndex) +
                                 " starts at offset " + std::to_string(point.offset) +
                                 " (the seek index does not match the recording)";
    if (!source->seekTo(point.offset)) {
      stop(Verdict::io_error, "cannot seek to offset " + std::to_string(point.offset));
      return false;
    }
    position = point.offset;
    if (point.offset == header.encodedSize) {
      if (point.messageIndex != 0) {
        stop(Verdict::corrupt, mismatch);
        return false;
      }
      crypto_secretstream_xchacha20poly1305_init_pull(stream, header.streamHeader.data(),
                                                      key->reveal().data());
      segment = 0;
      segmentFirstMessage = 0;
      messages = 0;
      messageAd = headerHash;
      pendingPoint = point;
      return true;
    }
    std::array<unsigned char, 4> field{};
    const long n = readExact(field);
    if (n != 4 || detail::loadU32Le(field.data()) != kSegmentMarker) {
      stop(Verdict::corrupt, mismatch);
      return false;
    }
    return startSegment(point.offset, point.messageIndex, true);
  }

  // Reads, authenticates and unpacks the next message into `body`, starting a new segment on
  // the way if a marker comes first. False when reading stops.
  bool readMessage() {
    std::array<unsigned char, 4> lenBytes{};
    while (true) {
      const std::uint64_t at = position;
      const long n = readExact(lenBytes);
      if (n < 0) {
        stop(Verdict::io_error, "cannot read the file");
        return false;
      }
      if (n == 0) {
        truncated("the file ends without the final message");
        return false;
      }
      if (n < 4) {
        truncated("the file ends inside message " + std::to_string(messages + 1));
        return false;
      }
      if (detail::loadU32Le(lenBytes.data()) != kSegmentMarker) break;
      if (!startSegment(at, messages, false)) return false;
    }
    const std::size_t len = detail::loadU32Le(lenBytes.data());
    const std::string which = "message " + std::to_string(messages + 1);
    if (len < kAbytes + kBatchHeaderBytes || len > kMaxMessageBytes) {
      stop(Verdict::corrupt, which + " has an impossible length");
      return false;
    }
    cipher.resize(len);
    const long m = readExact(cipher);
    if (m < 0) {
      stop(Verdict::io_error, "cannot read the file");
      return false;
    }
    if (static_cast<std::size_t>(m) < len) {
      truncated("the file ends inside " + which);
      return false;
    }
    plain.resize(len - kAbytes);
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(stream, plain.data(), nullptr, &tag,
                                                   cipher.data(), len, messageAd.data(),
                                                   messageAd.size()) != 0) {
      stop(Verdict::corrupt, which + " fails authentication (altered, removed or reordered)");
      return false;
    }
    if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE &&
        tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
      stop(Verdict::corrupt, which + " has an unexpected tag");
      return false;
    }
    ++messages;
    sawFinal = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    const auto encoding = plain[0];
    const auto count = detail::loadU32Le(plain.data() + 1);
    const std::size_t rawLen = detail::loadU32Le(plain.data() + 5);
    const std::span<const unsigned char> stored(plain.data() + kBatchHeaderBytes,
                                                plain.size() - kBatchHeaderBytes);
    if (rawLen > kMaxBatchBytes || count > kMaxRecordsPerBatch) {
      stop(Verdict::corrupt, which + " declares an oversized batch");
      return false;
    }
    if (encoding == static_cast<unsigned char>(BatchEncoding::raw)) {
      if (stored.size() != rawLen) {
        stop(Verdict::corrupt, which + " has a wrong batch length");
        return false;
      }
      body = stored;
    } else if (encoding == static_cast<unsigned char>(BatchEncoding::zstd)) {
      decompressed.resize(rawLen);
      const auto r =
          ZSTD_decompressDCtx(dctx, decompressed.data(), rawLen, stored.data(), stored.size());
      if (ZSTD_isError(r) || r != rawLen) {
        stop(Verdict::corrupt, which + " does not decompress");
        return false;
      }
      body = decompressed;
    } else {
      stop(Verdict::corrupt, which + " has an unknown batch encoding");
      return false;
    }
    bodyPos = 0;
    recordsLeft = count;
    return true;
  }

  std::optional<Record> nextRecord() {
    while (!finished) {
      if (recordsLeft > 0) {
        const std::string which = "message " + std::to_string(messages);
        if (body.size() - bodyPos < kRecordHeaderBytes) {
          stop(Verdict::corrupt, which + " has a cut record");
          return std::nullopt;
        }
        const unsigned char* p = body.data() + bodyPos;
        const auto kind = recordKindFromByte(p[12]);
        const auto dir = directionFromByte(p[13]);
        const std::size_t len = detail::loadU32Le(p + 14);
        if (!kind || !dir) {
          stop(Verdict::corrupt, which + " has a record of unknown kind or direction");
          return std::nullopt;
        }
        if (len > kMaxRecordPayload || len > body.size() - bodyPos - kRecordHeaderBytes) {
          stop(Verdict::corrupt, which + " has a record longer than its batch");
          return std::nullopt;
        }
        Record r;
        r.timeUs = detail::loadU64Le(p);
        r.channel = detail::loadU32Le(p + 8);
        r.kind = *kind;
        r.direction = *dir;
        r.payload.assign(p + kRecordHeaderBytes, p + kRecordHeaderBytes + len);
        if (r.timeUs < lastTimeUs) {
          stop(Verdict::corrupt, which + " has records out of time order");
          return std::nullopt;
        }
        bodyPos += kRecordHeaderBytes + len;
        --recordsLeft;
        lastTimeUs = r.timeUs;
        if (pendingPoint) {
          pendingPoint->atUs = r.timeUs;
          seekPoints.push_back(*pendingPoint);
          pendingPoint.reset();
        }
        return r;
      }
      if (bodyPos != body.size()) {
        stop(Verdict::corrupt,
             "message " + std::to_string(messages) + " has bytes after its records");
        return std::nullopt;
      }
      if (sawFinal) {
        std::array<unsigned char, 1> extra{};
        const long n = readExact(extra);
        if (n < 0) {
          stop(Verdict::io_error, "cannot read the file");
        } else if (n > 0) {
          stop(Verdict::corrupt, "data after the final message");
        } else {
          stop(Verdict::intact,
               "intact: " + std::to_string(messages) + " messages, " + seconds(lastTimeUs));
        }
        return std::nullopt;
      }
      if (!readMessage()) return std::nullopt;
    }
    return std::nullopt;
  }
};

RecordingReader::RecordingReader(const std::filesystem::path& file,
                                 std::span<const StreamKeyWrapper* const> keys)
    : s_(std::make_unique<State>()) {
  auto src = std::make_unique<FileSource>(file);
  if (!src->ok()) {
    s_->stop(Verdict::io_error, "cannot open " + file.string() + ": " + std::strerror(errno));
    return;
  }
  s_->source = std::move(src);
  s_->open(keys);
}

RecordingReader::RecordingReader(std::unique_ptr<ByteSource> source,
                                 std::span<const StreamKeyWrapper* const> keys)
    : s_(std::make_unique<State>()) {
  s_->source = std::move(source);
  s_->open(keys);
}

RecordingReader::~RecordingReader() = default;
RecordingReader::RecordingReader(RecordingReader&&) noexcept = default;
RecordingReader& RecordingReader::operator=(RecordingReader&&) noexcept = default;

std::optional<Record> RecordingReader::next() {
  return s_->nextRecord();
}
const ReadStatus& RecordingReader::status() const {
  return s_->status;
}
bool RecordingReader::finished() const {
  return s_->finished;
}
const RecordingHeader& RecordingReader::header() const {
  return s_->header;
}
std::uint64_t RecordingReader::lastTimeUs() const {
  return s_->lastTimeUs;
}
std::uint64_t RecordingReader::messages() const {
  return s_->messages;
}
std::uint64_t RecordingReader::bytesRead() const {
  return s_->bytesRead;
}
const std::vector<SeekPoint>& RecordingReader::seekPoints() const {
  return s_->seekPoints;
}
bool RecordingReader::seek(const SeekPoint& point) {
  return s_->seek(point);
}

ReadAll readAll(const std::filesystem::path& file, std::span<const StreamKeyWrapper* const> keys) {
  RecordingReader reader(file, keys);
  ReadAll all;
  while (auto r = reader.next()) all.records.push_back(std::move(*r));
  all.status = reader.status();
  all.header = reader.header();
  return all;
}

HeaderOnly readHeader(const std::filesystem::path& file) {
  // Without keys the reader stops right after the header: wrong_key means it parsed.
  RecordingReader reader(file, {});
  HeaderOnly h{reader.status(), reader.header()};
  if (h.status.verdict == Verdict::wrong_key) {
    h.status = {Verdict::intact, "header of session " + h.header.sessionId};
  }
  return h;
}

VerifyReport verifyRecording(const std::filesystem::path& file,
                             std::span<const StreamKeyWrapper* const> keys,
                             std::span<const unsigned char, 32> trustedSigner) {
  VerifyReport report;
  auto src = std::make_unique<FileSource>(file);
  if (!src->ok()) {
    report.status = {Verdict::io_error,
                     "cannot open " + file.string() + ": " + std::strerror(errno)};
    return report;
  }
  auto hashing = std::make_unique<HashingSource>(std::move(src));
  auto* hasher = hashing.get();
  RecordingReader reader(std::move(hashing), keys);
  std::array<std::uint64_t, kRecordKindCount> counts{};
  std::uint64_t bytesIn = 0;
  while (auto r = reader.next()) {
    ++counts[kindIndex(r->kind)];
    bytesIn += r->payload.size();
    ++report.records;
  }
  report.status = reader.status();
  report.header = reader.header();
  report.lastTimeUs = reader.lastTimeUs();
  if (report.status.verdict != Verdict::intact) return report;

  const auto mpath = manifestPathFor(file);
  std::error_code ec;
  if (!std::filesystem::exists(mpath, ec)) {
    report.status = {Verdict::manifest_missing, "no manifest " + mpath.string()};
    return report;
  }
  // 64 KiB + 1: parseManifest refuses anything larger; reading one more byte detects it.
  std::string text(64u * 1024 + 1, '\0');
  {
    FileSource msrc(mpath);
    if (!msrc.ok()) {
      report.status = {Verdict::io_error, "cannot open " + mpath.string()};
      return report;
    }
    std::size_t got = 0;
    while (got < text.size()) {
      const long n =
          msrc.read({reinterpret_cast<unsigned char*>(text.data()) + got, text.size() - got});
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    text.resize(got);
  }
  crypto_generichash(report.manifestDigest.data(), report.manifestDigest.size(),
                     reinterpret_cast<const unsigned char*>(text.data()), text.size(), nullptr, 0);
  auto manifest = parseManifest(text);
  if (!manifest) {
    report.status = {Verdict::manifest_invalid, manifest.error().message};
    return report;
  }
  report.manifest = *manifest;
  if (!manifestSignatureValid(*manifest, trustedSigner)) {
    report.status = {Verdict::bad_signature,
                     "the manifest is not signed by the trusted broker key"};
    return report;
  }
  const auto digest = hasher->digest();
  std::string mismatch;
  if (manifest->sessionId != report.header.sessionId)
    mismatch = "session id";
  else if (manifest->fileName != file.filename().string())
    mismatch = "file name";
  else if (manifest->bytesOnDisk != hasher->total())
    mismatch = "file size";
  else if (sodium_memcmp(manifest->fileBlake2b.data(), digest.data(), 32) != 0)
    mismatch = "file digest";
  else if (manifest->messages != reader.messages())
    mismatch = "message count";
  else if (manifest->recordCounts != counts)
    mismatch = "record counts";
  else if (manifest->bytesIn != bytesIn)
    mismatch = "bytes in";
  else if (manifest->durationUs != report.lastTimeUs)
    mismatch = "duration";
  else if (manifest->startedUnixUs != report.header.startedUnixUs)
    mismatch = "start time";
  if (!mismatch.empty()) {
    report.status = {Verdict::manifest_mismatch,
                     "the signed manifest does not match the recording: " + mismatch};
    return report;
  }
  report.status = {Verdict::intact, "intact and signed: " + std::to_string(report.records) +
                                        " records, " + std::to_string(reader.messages()) +
                                        " messages, " + seconds(report.lastTimeUs)};
  return report;
}

}  // namespace conduit::recorder
