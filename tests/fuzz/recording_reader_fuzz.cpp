// libFuzzer target: the recording reader, the batch/record parser behind the encryption, the
// payload decoders and the exporters, on hostile input.
//
// fuzz-sources: recorder/src/*.cpp broker/core/src/result.cpp
// fuzz-includes: recorder/include recorder/src broker/core/include
// fuzz-libs: -lsodium -lzstd -lpng16 -ljpeg -lpthread
//
// Input: one mode byte, then
//   mode 0: the bytes of a recording file, read with the fuzzer's key (PlainKeyWrapper);
//   mode 1: message plaintexts (u16 LE length + bytes each, top bit of the length = final tag)
//           that this target encrypts into a valid container, so the fuzzer reaches the batch
//           and record parsing that authentication otherwise keeps it from.
// With CONDUIT_FUZZ_SEED_DIR set, LLVMFuzzerInitialize writes seed inputs of both modes there.

#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <span>
#include <streambuf>
#include <string>
#include <vector>

#include "conduit/recorder/export.hpp"
#include "conduit/recorder/reader.hpp"
#include "conduit/recorder/writer.hpp"
#include "container.hpp"

using namespace conduit::recorder;

namespace {

// Stores the stream key as is. Real wrappers (the vault's, SealedBoxKeyWrapper) cost an X25519
// or AEAD operation per open that would dominate every input and teach the fuzzer nothing about
// the container; the wrappers are tested on their own.
class PlainKeyWrapper final : public StreamKeyWrapper {
 public:
  conduit::core::Result<std::vector<unsigned char>> wrap(std::span<const unsigned char, 32> key,
                                                         std::string_view) override {
    return std::vector<unsigned char>(key.begin(), key.end());
  }
  conduit::core::Result<SecretKey32> unwrap(std::span<const unsigned char> wrapped,
                                            std::string_view) const override {
    if (wrapped.size() != 32) {
      return conduit::core::fail(conduit::core::ErrorCode::corrupt, "wrapped key size");
    }
    return SecretKey32::copyOf(std::span<const unsigned char, 32>(wrapped.data(), 32));
  }
  std::string keyId() const override { return "fuzz:plain"; }
};

PlainKeyWrapper& fuzzKey() {
  static PlainKeyWrapper k;
  return k;
}

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::vector<unsigned char> b) : bytes_(std::move(b)) {}
  long read(std::span<unsigned char> out) override {
    const std::size_t n = std::min(out.size(), bytes_.size() - pos_);
    if (n > 0) std::memcpy(out.data(), bytes_.data() + pos_, n);
    pos_ += n;
    return static_cast<long>(n);
  }
  bool seekTo(std::uint64_t offset) override {
    if (offset > bytes_.size()) return false;
    pos_ = static_cast<std::size_t>(offset);
    return true;
  }

 private:
  std::vector<unsigned char> bytes_;
  std::size_t pos_ = 0;
};

class NullBuffer final : public std::streambuf {
 protected:
  int overflow(int c) override { return c; }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

// A header and the secretstream state right after it, made once: wrapping a key costs an X25519
// operation, which would otherwise dominate every mode 1 input.
struct Prepared {
  std::vector<unsigned char> header;
  std::array<unsigned char, 32> ad{};
  crypto_secretstream_xchacha20poly1305_state state{};
  Prepared() {
    auto& wrapper = fuzzKey();
    RecordingHeader h;
    h.sessionId = "fuzz";
    const auto key = SecretKey32::generate();
    KeySlot slot;
    slot.keyId = wrapper.keyId();
    slot.wrappedKey = std::move(*wrapper.wrap(key.reveal(), h.sessionId));
    h.keySlots.push_back(std::move(slot));
    crypto_secretstream_xchacha20poly1305_init_push(&state, h.streamHeader.data(),
                                                    key.reveal().data());
    header = detail::encodeHeader(h);
    ad = detail::headerDigest(header);
  }
};

// Builds a valid container whose messages carry the given plaintexts.
std::vector<unsigned char> containerFor(std::span<const unsigned char> data) {
  static const Prepared prepared;
  auto st = prepared.state;
  auto out = prepared.header;
  const auto& ad = prepared.ad;
  std::size_t pos = 0;
  while (pos + 2 <= data.size()) {
    const unsigned len16 = data[pos] | (data[pos + 1] << 8);
    const bool final = (len16 & 0x8000) != 0;
    const std::size_t len = std::min<std::size_t>(len16 & 0x7fff, data.size() - pos - 2);
    pos += 2;
    const std::size_t clen = len + crypto_secretstream_xchacha20poly1305_ABYTES;
    const std::size_t at = out.size();
    out.resize(at + 4 + clen);
    for (int i = 0; i < 4; ++i) {
      out[at + static_cast<std::size_t>(i)] = static_cast<unsigned char>(clen >> (8 * i));
    }
    crypto_secretstream_xchacha20poly1305_push(
        &st, out.data() + at + 4, nullptr, data.data() + pos, len, ad.data(), ad.size(),
        final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    pos += len;
  }
  return out;
}

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

// Seeking (docs/recording-format.md "Segments and seeking"): from each segment start the reader
// finds, and from points the input makes up (a hostile or stale seek index). A seek either
// fails cleanly or reads; from a real segment of an intact file it reads exactly the records
// the whole read gave from there on (the last ones of the same count).
void exerciseSeeks(const std::vector<unsigned char>& file, const std::vector<Record>& all,
                   const std::vector<SeekPoint>& points, bool intact,
                   std::span<const unsigned char> hostile) {
  const std::vector<const StreamKeyWrapper*> ks{&fuzzKey()};
  std::vector<SeekPoint> tries(points.begin(),
                               points.begin() + std::min<std::size_t>(points.size(), 4));
  // Made-up points: 24 input bytes each (message index, time, offset), at most 2.
  for (std::size_t at = 0; at + 24 <= hostile.size() && tries.size() < points.size() + 2;
       at += 24) {
    SeekPoint p;
    std::memcpy(&p.messageIndex, hostile.data() + at, 8);
    std::memcpy(&p.atUs, hostile.data() + at + 8, 8);
    std::memcpy(&p.offset, hostile.data() + at + 16, 8);
    p.offset %= file.size() + 1;
    tries.push_back(p);
  }
  for (std::size_t i = 0; i < tries.size(); ++i) {
    RecordingReader reader(std::make_unique<MemorySource>(file), ks);
    if (!reader.seek(tries[i])) {
      FUZZ_CHECK(!reader.next());  // a failed seek finishes the reader
      continue;
    }
    std::vector<Record> tail;
    while (auto r = reader.next()) tail.push_back(std::move(*r));
    const bool real = i < std::min<std::size_t>(points.size(), 4);
    if (real && intact && reader.status().verdict == Verdict::intact) {
      FUZZ_CHECK(tail.size() <= all.size());
      FUZZ_CHECK(std::equal(tail.begin(), tail.end(), all.end() - static_cast<long>(tail.size())));
    }
  }
}

void exercise(const std::vector<unsigned char>& file, std::span<const unsigned char> hostile) {
  const std::vector<const StreamKeyWrapper*> ks{&fuzzKey()};
  NullBuffer nb;
  std::ostream sink(&nb);
  {
    RecordingReader reader(std::make_unique<MemorySource>(file), ks);
    TerminalTextExtractor text(true);
    std::vector<Record> all;
    while (auto r = reader.next()) {
      all.push_back(*r);
      text.feed(*r);
      (void)decodeResize(r->payload);
      (void)decodeTunnelBytes(r->payload);
      (void)decodeFileTransfer(r->payload);
      (void)decodeProtocolEvent(r->payload);
      (void)decodeRdpTile(r->payload);
    }
    (void)text.finish();
    if (reader.status().message.empty()) std::abort();  // every verdict explains itself
    exerciseSeeks(file, all, reader.seekPoints(), reader.status().verdict == Verdict::intact,
                  hostile);
    // The exporters only see records: without any there is nothing new for them to parse.
    if (reader.messages() == 0) return;
  }
  {
    RecordingReader reader(std::make_unique<MemorySource>(file), ks);
    exportAsciicast(reader, sink);
  }
  {
    RecordingReader reader(std::make_unique<MemorySource>(file), ks);
    exportPcap(reader, sink);
  }
  {
    RecordingReader reader(std::make_unique<MemorySource>(file), ks);
    exportJsonl(reader, sink);
  }
}

void writeSeed(const std::filesystem::path& dir, const std::string& name,
               std::vector<unsigned char> bytes) {
  std::ofstream(dir / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

void writeSeeds(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const auto tmp = dir / "seed-recording.tmp";
  std::filesystem::remove(tmp);
  auto& wrapper = fuzzKey();
  std::array<unsigned char, 32> signSeed{};
  Ed25519ManifestSigner signer(signSeed);
  {
    WriterOptions o;
    o.file = tmp;
    o.sessionId = "fuzz-seed";
    o.sealBytes = 64;
    o.segmentBytes = 64;  // a segment per batch or two: seek points for the seek checks
    auto w = RecordingWriter::create(o, wrapper);
    if (!w.ok()) return;
    const auto tuple = *ipv4Tuple("10.0.0.1", 40000, "10.0.0.2", 502);
    (void)(*w)->append({0, 0, Direction::to_target, RecordKind::resize, encodeResize({80, 24})});
    (void)(*w)->append({1, 0, Direction::to_client, RecordKind::terminal_output,
                        bytesOf("\x1b[1mhi\x1b[0m\r\n\xc3\xa4\x08x")});
    (void)(*w)->append({2, 0, Direction::to_target, RecordKind::terminal_input, bytesOf("ls\r")});
    (void)(*w)->append(
        {3, 1, Direction::to_target, RecordKind::tunnel_bytes,
         encodeTunnelBytes(tuple, std::vector<unsigned char>{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1})});
    (void)(*w)->append({4, 1, Direction::none, RecordKind::protocol_event,
                        encodeProtocolEvent({"modbus", "allow", "read"})});
    (void)(*w)->append({5, 0, Direction::to_target, RecordKind::file_transfer,
                        encodeFileTransfer({FileOperation::upload, 3, "/a", "", ""})});
    (void)(*w)->append({6, 2, Direction::to_client, RecordKind::rdp_update,
                        encodeRdpTile({0, 0, 1, 1, 32, {1, 2, 3, 4}})});
    (void)(*w)->append({7, 0, Direction::none, RecordKind::marker, bytesOf("end")});
    (void)(*w)->append({8, 0, Direction::to_target, RecordKind::exec_command, bytesOf("id")});
    (void)(*w)->close(signer);
  }
  std::ifstream in(tmp, std::ios::binary);
  std::vector<unsigned char> file{std::istreambuf_iterator<char>(in),
                                  std::istreambuf_iterator<char>()};
  std::filesystem::remove(tmp);
  std::filesystem::remove(manifestPathFor(tmp));
  file.insert(file.begin(), 0);
  writeSeed(dir, "seed-mode0-recording", file);

  // Mode 1: one raw batch with two records, then an empty final batch.
  std::vector<unsigned char> batch{0, 2, 0, 0, 0, 0, 0, 0, 0};
  detail::appendRecord(batch, 1, 0, 1, 1, {}, bytesOf("out\r\n"));
  detail::appendRecord(batch, 2, 0, 3, 2, {}, encodeResize({100, 40}));
  const auto raw = static_cast<std::uint32_t>(batch.size() - 9);
  for (int i = 0; i < 4; ++i)
    batch[5 + static_cast<std::size_t>(i)] = static_cast<unsigned char>(raw >> (8 * i));
  std::vector<unsigned char> m1{1, static_cast<unsigned char>(batch.size() & 0xff),
                                static_cast<unsigned char>(batch.size() >> 8)};
  m1.insert(m1.end(), batch.begin(), batch.end());
  const std::vector<unsigned char> empty{0, 0, 0, 0, 0, 0, 0, 0, 0};
  m1.push_back(9);
  m1.push_back(0x80);
  m1.insert(m1.end(), empty.begin(), empty.end());
  writeSeed(dir, "seed-mode1-batches", m1);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (sodium_init() < 0) std::abort();
  if (const char* dir = std::getenv("CONDUIT_FUZZ_SEED_DIR"); dir != nullptr && *dir != '\0') {
    writeSeeds(dir);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::span<const unsigned char> rest(data + 1, size - 1);
  // The input's last bytes also make up seek points (a stale or hostile seek index).
  const auto hostile = rest.last(std::min<std::size_t>(rest.size(), 48));
  if (data[0] % 2 == 0) {
    exercise({rest.begin(), rest.end()}, hostile);
  } else {
    exercise(containerFor(rest), hostile);
  }
  return 0;
}
