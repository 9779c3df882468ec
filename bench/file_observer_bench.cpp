// What the SSH gateway's file decoding costs (issue 5 item 6; docs/benchmarks.md): the sftp and
// scp observers fed a large upload as the relay feeds them (64 KiB reads split anywhere), on
// one core, against the floor measured in the same run: SHA-256 alone over the same bytes.
//
//   bench_file_observer [MiB] [rounds]     (default 1024 MiB, 3 rounds)
//
// The sftp stream is what OpenSSH's sftp client sends for a put: OPEN, then WRITE requests of
// 32 KiB (its default buffer) in offset order, each answered with STATUS OK, then CLOSE; the
// scp stream is `scp -O`'s: one C line, the data, the status byte. Random data (incompressible,
// as firmware images are). The observers' events are checked: one upload of the right size
// with the SHA-256 computed here first, else the run fails.
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "conduit/ssh/scp_observer.hpp"
#include "conduit/ssh/sftp_observer.hpp"
#include "ssh/observer_support.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using conduit::ssh::FileEvents;
using conduit::ssh::FileObserver;
using conduit::test::bytes;
using conduit::test::Packet;
using conduit::test::sha256;

double mibPerSecond(std::size_t bytes, Clock::duration took) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0) /
         std::chrono::duration<double>(took).count();
}

/// Feeds `stream` in 64 KiB pieces (what one relay read takes), answers in between.
Clock::duration feed(FileObserver& o, const std::string& vendor,
                     const std::vector<std::pair<std::size_t, std::string>>& answers,
                     FileEvents& out) {
  const auto start = Clock::now();
  std::size_t at = 0;
  std::size_t next = 0;
  while (at < vendor.size()) {
    const std::size_t n = std::min<std::size_t>(65536, vendor.size() - at);
    o.fromVendor(bytes(std::string_view(vendor).substr(at, n)), out);
    at += n;
    while (next < answers.size() && answers[next].first <= at) {
      o.fromTarget(bytes(answers[next].second), out);
      ++next;
    }
  }
  return Clock::now() - start;
}

bool checkUpload(const FileEvents& out, std::size_t size, const std::string& hash) {
  return !out.stopped && out.events.size() == 1 && out.events[0].size == size &&
         out.events[0].sha256 == hash;
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 1;
  const std::size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1024;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  const std::size_t size = mib * 1024 * 1024;
  std::string data(size, '\0');
  randombytes_buf(data.data(), data.size());

  // sftp: OPEN, HANDLE, WRITEs of 32 KiB, a STATUS per write (answered after each 64 KiB read),
  // CLOSE and its STATUS.
  const std::string handle("\0\0\0\1", 4);
  // Before the timed part (the client waits for the handle before it writes).
  const std::string sftpOpen = Packet().u8(1).u32(3).wire() +
                               Packet().u8(3).u32(1).str("/opt/plc/fw.bin").u32(0x1a).u32(0).wire();
  const std::string sftpOpened =
      Packet().u8(2).u32(3).wire() + Packet().u8(102).u32(1).str(handle).wire();
  std::string sftp;
  std::vector<std::pair<std::size_t, std::string>> sftpAnswers;
  sftp.reserve(size + size / 32768 * 64 + 256);
  std::uint32_t id = 2;
  for (std::size_t off = 0; off < size; off += 32768, ++id) {
    const std::size_t n = std::min<std::size_t>(32768, size - off);
    sftp += Packet()
                .u8(6)
                .u32(id)
                .str(handle)
                .u64(off)
                .str(std::string_view(data).substr(off, n))
                .wire();
    sftpAnswers.emplace_back(sftp.size(), Packet().u8(101).u32(id).u32(0).str("").str("").wire());
  }
  sftp += Packet().u8(4).u32(id).str(handle).wire();
  sftpAnswers.emplace_back(sftp.size(), Packet().u8(101).u32(id).u32(0).str("").str("").wire());

  // scp -O: the ready answer, a C line and its answer (before the timed part: scp waits for
  // each), then the data and status byte, and the data's answer.
  const std::string cLine = "C0644 " + std::to_string(size) + " fw.bin\n";
  const std::string scp = data + std::string(1, '\0');
  const std::vector<std::pair<std::size_t, std::string>> scpAnswers{
      {scp.size(), std::string(1, '\0')}};

  std::printf("file decoding, one core, %zu MiB of random data per run, 64 KiB reads\n", mib);
  std::printf(
      "round | SHA-256 alone MiB/s | sftp upload decoded MiB/s | scp -O upload decoded MiB/s\n");
  for (int r = 1; r <= rounds; ++r) {
    const auto h0 = Clock::now();
    const std::string hash = sha256(data);
    const auto hashTook = Clock::now() - h0;

    conduit::ssh::SftpObserver sftpObserver;
    FileEvents sftpOut;
    sftpObserver.fromVendor(bytes(sftpOpen), sftpOut);
    sftpObserver.fromTarget(bytes(sftpOpened), sftpOut);
    const auto sftpTook = feed(sftpObserver, sftp, sftpAnswers, sftpOut);
    auto scpObserver = conduit::ssh::ScpObserver::forCommand("scp -t /opt/plc/fw.bin");
    FileEvents scpOut;
    scpObserver->fromTarget(bytes(std::string(1, '\0')), scpOut);  // ready
    scpObserver->fromVendor(bytes(cLine), scpOut);
    scpObserver->fromTarget(bytes(std::string(1, '\0')), scpOut);  // the C line accepted
    const auto scpTook = feed(*scpObserver, scp, scpAnswers, scpOut);
    for (const auto* out : {&sftpOut, &scpOut}) {
      if (checkUpload(*out, size, hash)) continue;
      std::fprintf(stderr, "round %d: %s did not report the upload as expected (%s; %zu events", r,
                   out == &sftpOut ? "sftp" : "scp",
                   out->stopped ? out->stopped->c_str() : "not stopped", out->events.size());
      for (const auto& e : out->events) {
        std::fprintf(stderr, "; %s %llu %s %s", e.path.c_str(),
                     static_cast<unsigned long long>(e.size), e.sha256.c_str(), e.detail.c_str());
      }
      std::fprintf(stderr, ")\n");
      return 1;
    }
    std::printf("%d | %.0f | %.0f | %.0f\n", r, mibPerSecond(size, hashTook),
                mibPerSecond(sftp.size(), sftpTook), mibPerSecond(scp.size(), scpTook));
  }
  return 0;
}
