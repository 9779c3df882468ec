// libFuzzer target: the TPKT framer, COTP/S7 decoding and the S7 inspector (through its tunnel
// adapter) on hostile bytes from both sides, with time passing and the session draining in
// between.
//
// fuzz-sources: broker/tunnel/src/s7_*.cpp broker/core/src/result.cpp
// fuzz-includes: broker/tunnel/include broker/core/include
// fuzz-libs: -lboost_json
//
// Input: one options byte, then operations until the input ends:
//   0 n bytes[n]   client bytes      1 n bytes[n]   PLC bytes
//   2 s            s seconds pass (tick)           3              drain for the end
// Checked on every output: both directions carry whole TPKT packets whose TPDUs decode and
// whose S7 PDUs are whole and decode; every request that reaches the PLC passes the grant
// (never a state change on a read-only grant); limits hold; the same client stream framed
// whole and in pieces gives the same packets; every event encodes to JSON that parses.
#include <boost/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <vector>

#include "conduit/tunnel/s7_inspector.hpp"
#include "conduit/tunnel/s7_tunnel.hpp"

using namespace conduit;
using namespace conduit::tunnel;

namespace {

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

core::S7Options optionsFrom(std::uint8_t b) {
  core::S7Options o;
  o.readOnly = (b & 1) == 0;
  // With read_only, an inconsistent list (the parser refuses it): the stricter reading wins.
  if (b & 2) o.functions = {0x04, 0x05, 0x1a, 0x1b, 0x1c, 0x28, 0x1d};
  return o;
}

// The S7 PDUs of `bytes`, which must be whole TPKT packets with whole segmented PDUs.
std::vector<std::vector<std::uint8_t>> wholePdus(const std::vector<std::uint8_t>& bytes) {
  TpktFramer f;
  std::vector<std::vector<std::uint8_t>> pdus;
  std::vector<std::uint8_t> pending;
  bool open = false;
  FUZZ_CHECK(!f.feed(bytes, [&](const TpktFrame& frame) {
    auto tpdu = decodeCotp(frame.tpdu());
    FUZZ_CHECK(tpdu.ok());
    if (tpdu->kind != CotpKind::data) {
      FUZZ_CHECK(!open);  // connection TPDUs never cut into a segmented PDU
      return;
    }
    pending.insert(pending.end(), tpdu->data.begin(), tpdu->data.end());
    open = !tpdu->lastDataUnit;
    if (!open) {
      FUZZ_CHECK(decodeS7Header(pending).ok());
      pdus.push_back(std::move(pending));
      pending.clear();
    }
  }));
  FUZZ_CHECK(f.buffered() == 0);
  FUZZ_CHECK(!open);
  return pdus;
}

void addBytes(std::vector<std::uint8_t>& input, std::uint8_t op,
              const std::vector<std::uint8_t>& bytes) {
  input.push_back(op);
  input.push_back(static_cast<std::uint8_t>(bytes.size()));
  input.insert(input.end(), bytes.begin(), bytes.end());
}

void writeSeeds(const char* dir) {
  auto seed = [&](const char* name, const std::vector<std::uint8_t>& bytes) {
    std::ofstream(std::filesystem::path(dir) / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  };
  std::filesystem::create_directories(dir);
  const std::vector<std::uint8_t> cr = {3,    0, 0,    22,   0x11, 0xe0, 0, 0,    0, 1, 0,
                                        0xc0, 1, 0x0a, 0xc1, 2,    1,    0, 0xc2, 2, 1, 2};
  const std::vector<std::uint8_t> cc = {3,    0, 0,    22,   0x11, 0xd0, 0, 1,    0, 0x44, 0,
                                        0xc0, 1, 0x0a, 0xc1, 2,    1,    0, 0xc2, 2, 1,    2};
  const std::vector<std::uint8_t> setup = {3, 0, 0, 25, 2,    0xf0, 0x80, 0x32, 1, 0, 0, 0,   1,
                                           0, 8, 0, 0,  0xf0, 0,    0,    1,    0, 1, 1, 0xe0};
  const std::vector<std::uint8_t> setupAck = {3, 0, 0, 27, 2, 0xf0, 0x80, 0x32, 3, 0, 0, 0, 1,   0,
                                              8, 0, 0, 0,  0, 0xf0, 0,    0,    1, 0, 1, 0, 0xf0};
  const std::vector<std::uint8_t> read = {3, 0, 0, 31, 2, 0xf0, 0x80, 0x32, 1,    0,    0,
                                          0, 2, 0, 14, 0, 0,    4,    1,    0x12, 0x0a, 0x10,
                                          2, 0, 4, 0,  1, 0x84, 0,    0,    0};
  const std::vector<std::uint8_t> readAck = {3, 0, 0, 29, 2, 0xf0, 0x80, 0x32, 3, 0,  0, 0, 2, 0, 2,
                                             0, 8, 0, 0,  4, 1,    0xff, 4,    0, 32, 1, 2, 3, 4};
  const std::vector<std::uint8_t> write = {3,  0, 0, 37, 2, 0xf0, 0x80, 0x32, 1,   0, 0, 0, 3, 0,
                                           14, 0, 6, 5,  1, 0x12, 0x0a, 0x10, 2,   0, 2, 0, 1, 0x84,
                                           0,  0, 0, 0,  4, 0,    16,   0x12, 0x34};
  // Read-only grant: connection, setup, a read and its answer, a write (refused), time, drain.
  std::vector<std::uint8_t> r = {0};
  for (const auto* p : {&cr, &setup, &read, &write}) addBytes(r, 0, *p);
  addBytes(r, 1, cc);
  addBytes(r, 1, setupAck);
  addBytes(r, 1, readAck);
  r.insert(r.end(), {2, 61, 3});
  seed("seed-readonly", r);
  // Writable grant with a function list: the write split across two reads, then a download
  // request accepted and a block the PLC asks for.
  std::vector<std::uint8_t> w = {1 | 2};
  addBytes(w, 0, cr);
  addBytes(w, 1, cc);
  addBytes(w, 0, std::vector<std::uint8_t>(write.begin(), write.begin() + 10));
  addBytes(w, 0, std::vector<std::uint8_t>(write.begin() + 10, write.end()));
  addBytes(w, 0, {3, 0, 0, 18, 2, 0xf0, 0x80, 0x32, 1, 0, 0, 0, 4, 0, 1, 0, 0, 0x1a});
  addBytes(w, 1, {3, 0, 0, 20, 2, 0xf0, 0x80, 0x32, 3, 0, 0, 0, 4, 0, 1, 0, 0, 0, 0, 0x1a});
  addBytes(w, 1, {3, 0, 0, 19, 2, 0xf0, 0x80, 0x32, 1, 0, 0, 1, 0, 0, 2, 0, 0, 0x1b, 0});
  addBytes(w, 0, {3, 0, 0, 25, 2, 0xf0, 0x80, 0x32, 3, 0, 0,    1, 0,
                  0, 2, 0, 4,  0, 0,    0x1b, 0,    0, 1, 0xfb, 0});
  w.insert(w.end(), {3});
  seed("seed-download", w);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("CONDUIT_FUZZ_SEED_DIR");
  if (dir != nullptr && *dir != '\0') writeSeeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const core::S7Options options = optionsFrom(data[0]);
  S7Limits limits;
  limits.maxInFlight = 3;
  limits.maxEventItems = 4;
  limits.maxValueBytes = 8;
  S7Inspector insp(options, limits);
  // The adapter sees the same input: its verdicts must carry the same bytes.
  S7TunnelInspector adapter(options, limits);
  Instant now{std::chrono::seconds{1'700'000'000}};
  std::vector<std::uint8_t> clientStream;
  TpktFramer piecewise;
  std::vector<std::vector<std::uint8_t>> piecewiseFrames;

  auto check = [&](const S7InspectorOutput& out, const TunnelVerdict& verdict) {
    FUZZ_CHECK(verdict.toTarget == out.toServer);
    FUZZ_CHECK(verdict.toClient == out.toClient);
    FUZZ_CHECK(verdict.events.size() == out.events.size());
    FUZZ_CHECK(verdict.close == out.close);
    for (const auto& pdu : wholePdus(out.toServer)) {
      auto header = decodeS7Header(pdu);
      if (header->rosctr != Rosctr::job && header->rosctr != Rosctr::userdata) continue;
      // A request that reaches the PLC passed the grant. (Userdata the broker sends the PLC is
      // only ever a refusal of the PLC's own request: a response, not a request.)
      const S7Request request = decodeRequest(*header, 8);
      if (header->rosctr == Rosctr::userdata && request.userdata &&
          !isUserdataRequest(request.userdata->type)) {
        continue;
      }
      FUZZ_CHECK(decideRequest(options, request).allow);
      FUZZ_CHECK(!options.readOnly || !changesState(request));
    }
    (void)wholePdus(out.toClient);
    for (const auto& e : out.events) {
      boost::system::error_code ec;
      (void)boost::json::parse(toJson(e), ec);
      FUZZ_CHECK(!ec);
    }
    FUZZ_CHECK(insp.inFlight() <= limits.maxInFlight);
    FUZZ_CHECK(insp.plcJobsInFlight() <= limits.maxInFlight);
    if (options.readOnly) FUZZ_CHECK(!insp.downloadOpen());
    if (out.drained) FUZZ_CHECK(insp.inFlight() == 0 && insp.plcJobsInFlight() == 0);
    FUZZ_CHECK(out.drained == adapter.drained());
  };

  const auto asTime = [](Instant t) { return TunnelInspector::TimePoint{t.time_since_epoch()}; };
  std::size_t at = 1;
  while (at < size) {
    const std::uint8_t op = data[at++] % 4;
    if (op <= 1) {
      if (at >= size) break;
      const std::size_t length = data[at++];
      const std::size_t n = std::min(length, size - at);
      const std::span<const std::uint8_t> bytes(data + at, n);
      at += n;
      if (op == 0) {
        clientStream.insert(clientStream.end(), bytes.begin(), bytes.end());
        (void)piecewise.feed(bytes, [&](const TpktFrame& f) {
          piecewiseFrames.emplace_back(f.bytes.begin(), f.bytes.end());
        });
        const auto out = insp.onClient(bytes, now);
        check(out, adapter.onClientBytes(bytes, asTime(now)));
      } else {
        const auto out = insp.onServer(bytes, now);
        check(out, adapter.onServerBytes(bytes, asTime(now)));
      }
    } else if (op == 2) {
      if (at >= size) break;
      now += std::chrono::seconds{data[at++]};
      const auto out = insp.tick(now);
      check(out, adapter.onTick(asTime(now)));
    } else {
      const auto out = insp.drainForEnd(now);
      check(out, adapter.drain(asTime(now)));
      FUZZ_CHECK(insp.draining());
    }
  }
  // The same stream framed in one piece gives the same packets and the same verdict.
  TpktFramer whole;
  std::vector<std::vector<std::uint8_t>> wholeStreamFrames;
  const auto failure = whole.feed(clientStream, [&](const TpktFrame& f) {
    wholeStreamFrames.emplace_back(f.bytes.begin(), f.bytes.end());
  });
  FUZZ_CHECK(wholeStreamFrames == piecewiseFrames);
  FUZZ_CHECK(failure.has_value() == piecewise.failure().has_value());
  return 0;
}
