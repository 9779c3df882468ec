// Recorder figures (issue 6, "Performance"): writer throughput and bytes on disk per byte for
// random and terminal-like input, the time to export a one-hour terminal session to asciicast,
// and the time to seek to minute 45 with and without the seek index.
//
// Baselines in the same run, on the same bytes and the same tmpfs:
//   - secretstream+zstd: what the writer does at its core, done the plain way in this thread:
//     every 64 KiB chunk compressed with zstd level 1 (kept raw if not smaller), encrypted with
//     crypto_secretstream_xchacha20poly1305_push and written; no queue, no batching of records,
//     no record headers, no file hash, no sampling of incompressible data.
//   - secretstream only: the encryption alone (the floor for incompressible data).
//   - BLAKE2b-256 alone: the file digest the manifest signs, which the writer computes on the
//     side (its sink thread); with secretstream it is the writer's floor for random data.
//   - AES-256-GCM alone (libsodium's crypto_aead_aes256gcm, AES-NI; where the CPU has it): the
//     message cipher a future format version could use instead of XChaCha20-Poly1305, measured
//     as that decision's input (docs/benchmarks.md, recorder).
//   - export: decrypting and parsing every record without writing anything (the reader's share).
//   - seek: reading from the start until the target time (no index).
//
// Usage: bench_recorder [MiB per throughput run (default 1024)] [repetitions (default 3)]
// Files go to /dev/shm (tmpfs) when it exists, so the figures are the recorder's CPU cost, not
// the disk's speed. Prints one line per figure and repetition.
#include <sodium.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "conduit/recorder/export.hpp"
#include "conduit/recorder/reader.hpp"
#include "conduit/recorder/writer.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/migrations.hpp"
#include "conduit/store/recording_index.hpp"

using namespace conduit;
using namespace conduit::recorder;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// Stores the stream key as is: the vault's wrapper costs one AEAD call per recording, which
// does not belong in a throughput figure.
class PlainKeyWrapper final : public StreamKeyWrapper {
 public:
  core::Result<std::vector<unsigned char>> wrap(std::span<const unsigned char, 32> key,
                                                std::string_view) override {
    return std::vector<unsigned char>(key.begin(), key.end());
  }
  core::Result<SecretKey32> unwrap(std::span<const unsigned char> wrapped,
                                   std::string_view) const override {
    if (wrapped.size() != 32) return core::fail(core::ErrorCode::corrupt, "wrapped key size");
    return SecretKey32::copyOf(std::span<const unsigned char, 32>(wrapped.data(), 32));
  }
  std::string keyId() const override { return "bench:plain"; }
};

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Process CPU time (all threads), user + system.
double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

std::vector<unsigned char> randomInput(std::size_t n) {
  std::vector<unsigned char> v(n);
  randombytes_buf(v.data(), v.size());
  return v;
}

// Terminal-like text: shell prompts with colour, `ls -l` lines, log lines with timestamps and
// numbers, a progress line rewritten with CR. Words and numbers come from a seeded generator, so
// it compresses like real terminal output rather than like a repeated string.
std::vector<unsigned char> terminalInput(std::size_t n) {
  static const char* words[] = {
      "modbus",  "read",    "holding", "registers", "write",  "coil",   "plc-17",   "hmi",
      "pump",    "station", "valve",   "pressure",  "bar",    "flow",   "setpoint", "alarm",
      "cleared", "ok",      "timeout", "retry",     "config", "backup", "firmware", "update",
      "systemd", "started", "stopped", "service",   "kernel", "eth0",   "link",     "up",
      "down",    "sshd",    "session", "opened",    "closed", "user",   "root",     "maint",
      "error",   "warning", "info",    "debug",     "tank",   "level",  "percent",  "motor",
      "speed",   "rpm",     "temp",    "celsius",   "scan",   "cycle",  "ms",       "done"};
  static const char* files[] = {"config.xml", "backup.tar", "ladder.st", "hmi.db",
                                "syslog",     "fw-2.4.bin", "notes.txt", "recipes.csv"};
  std::mt19937_64 rng(42);
  auto pick = [&](std::size_t k) { return static_cast<std::size_t>(rng() % k); };
  std::string out;
  out.reserve(n + 256);
  while (out.size() < n) {
    switch (pick(10)) {
      case 0:
        out += "\x1b[1;32mmaint@plc-17\x1b[0m:\x1b[1;34m~\x1b[0m$ ";
        out += words[pick(std::size(words))];
        out += " ";
        out += files[pick(std::size(files))];
        out += "\r\n";
        break;
      case 1:
      case 2: {
        char line[160];
        std::snprintf(line, sizeof line,
                      "-rw-r--r-- 1 maint maint %7zu Nov %2zu %02zu:%02zu %s\r\n", pick(9'000'000),
                      1 + pick(30), pick(24), pick(60), files[pick(std::size(files))]);
        out += line;
        break;
      }
      case 3: {
        char line[80];
        std::snprintf(line, sizeof line, "\rprogress %3zu%% [%-20s]", pick(101),
                      std::string(pick(21), '#').c_str());
        out += line;
        break;
      }
      default: {
        char head[96];
        std::snprintf(head, sizeof head,
                      "2026-11-%02zuT%02zu:%02zu:%02zu.%03zuZ plc-17 %s[%zu]: ", 1 + pick(28),
                      pick(24), pick(60), pick(60), pick(1000), words[pick(std::size(words))],
                      100 + pick(9000));
        out += head;
        const auto count = 3 + pick(9);
        for (std::size_t i = 0; i < count; ++i) {
          if (pick(3) == 0) {
            out += std::to_string(pick(100000));
          } else {
            out += words[pick(std::size(words))];
          }
          out += i + 1 < count ? " " : "\r\n";
        }
      }
    }
  }
  out.resize(n);
  return {out.begin(), out.end()};
}

double blake2bMiBs(const std::vector<unsigned char>& input, std::size_t total) {
  const auto t0 = Clock::now();
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  for (std::size_t done = 0; done < total; done += input.size()) {
    crypto_generichash_update(&st, input.data(), std::min(input.size(), total - done));
  }
  std::array<unsigned char, 32> h{};
  crypto_generichash_final(&st, h.data(), h.size());
  return static_cast<double>(total) / kMiB / seconds(Clock::now() - t0);
}

// AES-256-GCM over 64 KiB chunks, a fresh nonce per chunk (a counter); 0 without AES-NI.
double aesGcmMiBs(const std::vector<unsigned char>& input, std::size_t total) {
  if (crypto_aead_aes256gcm_is_available() == 0) return 0;
  std::array<unsigned char, crypto_aead_aes256gcm_KEYBYTES> key{};
  crypto_aead_aes256gcm_keygen(key.data());
  crypto_aead_aes256gcm_state st;
  crypto_aead_aes256gcm_beforenm(&st, key.data());
  constexpr std::size_t kChunk = 64u << 10;
  std::vector<unsigned char> cipher(kChunk + crypto_aead_aes256gcm_ABYTES);
  std::array<unsigned char, crypto_aead_aes256gcm_NPUBBYTES> nonce{};
  const auto t0 = Clock::now();
  for (std::size_t done = 0, at = 0; done < total;) {
    const auto n = std::min({kChunk, total - done, input.size() - at});
    sodium_increment(nonce.data(), nonce.size());
    unsigned long long clen = 0;
    crypto_aead_aes256gcm_encrypt_afternm(cipher.data(), &clen, input.data() + at, n, nullptr, 0,
                                          nullptr, nonce.data(), &st);
    done += n;
    at = (at + n) % input.size();
  }
  return static_cast<double>(total) / kMiB / seconds(Clock::now() - t0);
}

struct WriteFigure {
  double wallMiBs = 0;
  double cpuMiBs = 0;  // input MiB per CPU-second of the whole process (all threads)
  double ratio = 0;    // bytes on disk per byte of input
};

// Records `total` bytes of `input` (cycled) in 32 KiB appends, as a relay would, pausing while
// the writer's queue is above 16 MiB (the gateway's backpressure), then closes.
WriteFigure recordWithWriter(const std::filesystem::path& file,
                             const std::vector<unsigned char>& input, std::size_t total) {
  PlainKeyWrapper key;
  std::array<unsigned char, 32> seed{};
  Ed25519ManifestSigner signer(seed);
  WriterOptions o;
  o.file = file;
  o.sessionId = "bench";
  const auto cpu0 = cpuSeconds();
  const auto t0 = Clock::now();
  auto w = RecordingWriter::create(o, key);
  if (!w) std::exit(2);
  constexpr std::size_t kChunk = 32u << 10;
  std::size_t done = 0;
  std::size_t at = 0;
  while (done < total) {
    while ((*w)->queuedBytes() > (16u << 20))
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    const auto n = std::min({kChunk, total - done, input.size() - at});
    if (!(*w)->append(RecordKind::terminal_output, 0, Direction::to_client,
                      std::span(input).subspan(at, n))) {
      std::exit(3);
    }
    done += n;
    at = (at + n) % input.size();
  }
  auto m = (*w)->close(signer);
  if (!m) std::exit(4);
  const auto wall = seconds(Clock::now() - t0);
  const auto cpu = cpuSeconds() - cpu0;
  WriteFigure f;
  f.wallMiBs = static_cast<double>(total) / kMiB / wall;
  f.cpuMiBs = static_cast<double>(total) / kMiB / cpu;
  f.ratio = static_cast<double>(m->bytesOnDisk) / static_cast<double>(total);
  std::filesystem::remove(file);
  std::filesystem::remove(manifestPathFor(file));
  return f;
}

// The baseline: 64 KiB chunks, zstd-1 (raw if not smaller) unless `compress` is false,
// secretstream, write(2); one thread.
WriteFigure recordPlain(const std::filesystem::path& file, const std::vector<unsigned char>& input,
                        std::size_t total, bool compress) {
  const auto cpu0 = cpuSeconds();
  const auto t0 = Clock::now();
  std::FILE* f = std::fopen(file.c_str(), "wb");
  if (f == nullptr) std::exit(5);
  std::array<unsigned char, crypto_secretstream_xchacha20poly1305_KEYBYTES> key{};
  crypto_secretstream_xchacha20poly1305_keygen(key.data());
  crypto_secretstream_xchacha20poly1305_state st;
  std::array<unsigned char, crypto_secretstream_xchacha20poly1305_HEADERBYTES> header{};
  crypto_secretstream_xchacha20poly1305_init_push(&st, header.data(), key.data());
  std::fwrite(header.data(), 1, header.size(), f);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  constexpr std::size_t kChunk = 64u << 10;
  std::vector<unsigned char> packed(ZSTD_compressBound(kChunk));
  std::vector<unsigned char> cipher(packed.size() + crypto_secretstream_xchacha20poly1305_ABYTES);
  std::size_t done = 0, at = 0, onDisk = header.size();
  while (done < total) {
    const auto n = std::min({kChunk, total - done, input.size() - at});
    const unsigned char* plain = input.data() + at;
    std::size_t plainLen = n;
    if (compress) {
      const auto c = ZSTD_compressCCtx(cctx, packed.data(), packed.size(), plain, n, 1);
      if (!ZSTD_isError(c) && c < n) {
        plain = packed.data();
        plainLen = c;
      }
    }
    unsigned long long clen = 0;
    crypto_secretstream_xchacha20poly1305_push(&st, cipher.data(), &clen, plain, plainLen, nullptr,
                                               0, 0);
    std::fwrite(cipher.data(), 1, static_cast<std::size_t>(clen), f);
    onDisk += static_cast<std::size_t>(clen);
    done += n;
    at = (at + n) % input.size();
  }
  std::fclose(f);
  ZSTD_freeCCtx(cctx);
  const auto wall = seconds(Clock::now() - t0);
  const auto cpu = cpuSeconds() - cpu0;
  std::filesystem::remove(file);
  return {static_cast<double>(total) / kMiB / wall, static_cast<double>(total) / kMiB / cpu,
          static_cast<double>(onDisk) / static_cast<double>(total)};
}

// One hour of a terminal session: ~80 bytes of output every 50 ms (72,000 records), sealed in
// batches of about one second (the live writer seals every second; this writer is fed faster
// than real time, so the batch size stands in for the interval). Returns the seek points.
std::vector<store::RecordingSeekPoint> writeHourSession(const std::filesystem::path& file,
                                                        StreamKeyWrapper& key) {
  std::array<unsigned char, 32> seed{};
  Ed25519ManifestSigner signer(seed);
  WriterOptions o;
  o.file = file;
  o.sessionId = "bench-hour";
  o.sealBytes = 20 * (80 + 18);
  auto w = RecordingWriter::create(o, key);
  if (!w) std::exit(6);
  (void)(*w)->append(
      Record{0, 0, Direction::to_client, RecordKind::resize, encodeResize({120, 40})});
  const auto text = terminalInput(80 * 72'000);
  for (std::uint64_t i = 0; i < 72'000; ++i) {
    Record r{i * 50'000 + 1,
             0,
             Direction::to_client,
             RecordKind::terminal_output,
             {text.begin() + static_cast<std::ptrdiff_t>(i * 80),
              text.begin() + static_cast<std::ptrdiff_t>(i * 80 + 80)}};
    if (!(*w)->append(r)) std::exit(7);
  }
  if (!(*w)->close(signer)) std::exit(8);
  const StreamKeyWrapper* keys[] = {&key};
  RecordingReader reader(file, keys);
  const auto t0 = Clock::now();
  auto indexed = indexRecording(reader);
  std::printf("indexRecording at sealing (text, seek points, keyframes): %.1f ms\n",
              seconds(Clock::now() - t0) * 1e3);
  std::vector<store::RecordingSeekPoint> points;
  for (auto& k : indexed.keyframes) {
    points.push_back({k.point.messageIndex, k.point.atUs, k.point.offset, std::move(k.screen)});
  }
  return points;
}

class NullBuffer final : public std::streambuf {
 protected:
  int overflow(int c) override { return c; }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

void printRange(const char* name, std::vector<double> v, const char* unit, int precision = 1) {
  std::sort(v.begin(), v.end());
  std::printf("%-44s", name);
  for (double x : v) std::printf(" %.*f", precision, x);
  std::printf(" %s (min %.*f, max %.*f)\n", unit, precision, v.front(), precision, v.back());
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 1;
  const std::size_t mib = argc > 1 ? static_cast<std::size_t>(std::atol(argv[1])) : 1024;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  const std::size_t total = mib << 20;
  const std::filesystem::path dir =
      (std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm")
                                           : std::filesystem::temp_directory_path()) /
      ("conduit-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::printf("files in %s; %zu MiB per throughput run; %d repetitions\n", dir.c_str(), mib, reps);

  // 64 MiB of input, cycled: large enough that zstd's window never sees a repeat.
  const auto random = randomInput(64u << 20);
  const auto text = terminalInput(64u << 20);
  for (const auto& [name, input] : {std::pair{"random", &random}, std::pair{"text", &text}}) {
    std::vector<double> wall, cpu, ratio, bWall, bCpu, bRatio, sWall, hash, aes;
    for (int i = 0; i < reps; ++i) {
      const auto f = recordWithWriter(dir / "w.crec", *input, total);
      const auto b = recordPlain(dir / "b.bin", *input, total, true);
      const auto s = recordPlain(dir / "s.bin", *input, total, false);
      wall.push_back(f.wallMiBs);
      cpu.push_back(f.cpuMiBs);
      ratio.push_back(f.ratio);
      bWall.push_back(b.wallMiBs);
      bCpu.push_back(b.cpuMiBs);
      bRatio.push_back(b.ratio);
      sWall.push_back(s.wallMiBs);
      hash.push_back(blake2bMiBs(*input, total));
      aes.push_back(aesGcmMiBs(*input, total));
    }
    std::printf("-- %s input\n", name);
    printRange("writer MiB/s (wall)", wall, "MiB/s", 0);
    printRange("writer MiB per CPU-second (all threads)", cpu, "MiB/s", 0);
    printRange("writer bytes on disk per byte", ratio, "", 4);
    printRange("baseline secretstream+zstd MiB/s (1 thread)", bWall, "MiB/s", 0);
    printRange("baseline secretstream+zstd MiB per CPU-s", bCpu, "MiB/s", 0);
    printRange("baseline secretstream+zstd bytes per byte", bRatio, "", 4);
    printRange("baseline secretstream only MiB/s", sWall, "MiB/s", 0);
    printRange("baseline BLAKE2b-256 only MiB/s", hash, "MiB/s", 0);
    printRange("lever AES-256-GCM only MiB/s (0: no AES-NI)", aes, "MiB/s", 0);
  }

  // One hour of terminal session: export, and seeking to minute 45.
  PlainKeyWrapper key;
  const auto hour = dir / "hour.crec";
  const auto points = writeHourSession(hour, key);
  std::size_t screenBytes = 0;
  for (const auto& p : points) screenBytes += p.screen.size();
  std::printf(
      "-- one-hour session: %ju bytes on disk for %u bytes of output, %zu seek points, "
      "%zu bytes of keyframe text\n",
      static_cast<std::uintmax_t>(std::filesystem::file_size(hour)), 72'000u * 80u, points.size(),
      screenBytes);
  auto db = store::Database::open(dir / "bench.db");
  if (!db || !store::migrate(*db)) return 9;
  store::RecordingIndex index(*db);
  if (!index.add({"bench-hour", "hour.crec", "", "", {}, "00"}, {}) ||
      !index.addSeekPoints("bench-hour", points)) {
    return 10;
  }
  const StreamKeyWrapper* keys[] = {&key};
  NullBuffer nb;
  std::ostream sink(&nb);
  constexpr std::uint64_t kMinute45 = 45ull * 60 * 1'000'000;
  std::vector<double> exportMs, readMs, seekIndexMs, seekScanMs, fromIndexMs, fromScanMs;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    {
      RecordingReader reader(hour, keys);
      std::ofstream out(dir / "hour.cast");
      exportAsciicast(reader, out);
      if (reader.status().verdict != Verdict::intact) return 11;
    }
    exportMs.push_back(seconds(Clock::now() - t0) * 1e3);

    t0 = Clock::now();
    {
      RecordingReader reader(hour, keys);
      std::size_t n = 0;
      while (reader.next()) ++n;
      if (n != 72'001) return 12;
    }
    readMs.push_back(seconds(Clock::now() - t0) * 1e3);

    // First record at or after 45:00, with the index: one SQLite lookup, then the segment.
    t0 = Clock::now();
    std::uint64_t foundIndex = 0;
    {
      auto p = index.seekPointBefore("bench-hour", kMinute45);
      if (!p || !*p) return 13;
      RecordingReader reader(hour, keys);
      if (!reader.seek({(*p)->messageIndex, (*p)->atUs, (*p)->offset})) return 14;
      while (auto r = reader.next()) {
        if (r->timeUs >= kMinute45) {
          foundIndex = r->timeUs;
          break;
        }
      }
    }
    seekIndexMs.push_back(seconds(Clock::now() - t0) * 1e3);

    t0 = Clock::now();
    std::uint64_t foundScan = 0;
    {
      RecordingReader reader(hour, keys);
      while (auto r = reader.next()) {
        if (r->timeUs >= kMinute45) {
          foundScan = r->timeUs;
          break;
        }
      }
    }
    seekScanMs.push_back(seconds(Clock::now() - t0) * 1e3);
    if (foundIndex != foundScan || foundIndex == 0) return 15;

    // What an auditor runs: the cast from 45:00 to the end, on the screen shown at 45:00.
    t0 = Clock::now();
    {
      auto p = index.seekPointBefore("bench-hour", kMinute45);
      RecordingReader reader(hour, keys);
      if (!p || !*p || !reader.seek({(*p)->messageIndex, (*p)->atUs, (*p)->offset})) return 16;
      auto screen = TerminalScreen::parse((*p)->screen);
      AsciicastOptions o;
      o.fromUs = kMinute45;
      o.startScreen = screen ? &*screen : nullptr;
      exportAsciicast(reader, sink, o);
    }
    fromIndexMs.push_back(seconds(Clock::now() - t0) * 1e3);

    t0 = Clock::now();
    {
      RecordingReader reader(hour, keys);
      AsciicastOptions o;
      o.fromUs = kMinute45;
      exportAsciicast(reader, sink, o);
    }
    fromScanMs.push_back(seconds(Clock::now() - t0) * 1e3);
  }
  printRange("export one hour to asciicast (file)", exportMs, "ms");
  printRange("baseline: decrypt and parse every record", readMs, "ms");
  printRange("seek to 45:00 with the index", seekIndexMs, "ms", 2);
  printRange("seek to 45:00 without (read from start)", seekScanMs, "ms", 2);
  printRange("cast from 45:00 with the index", fromIndexMs, "ms", 2);
  printRange("cast from 45:00 without (read from start)", fromScanMs, "ms", 2);

  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
