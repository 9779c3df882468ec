// libFuzzer target: the MBAP framer and the Modbus inspector on hostile bytes from both sides,
// with holds decided, time passing and the session draining in between.
//
// fuzz-sources: broker/tunnel/src/*.cpp broker/core/src/result.cpp
// fuzz-includes: broker/tunnel/include broker/core/include
// fuzz-libs: -lboost_json
//
// Input: one options byte, then operations until the input ends:
//   0 n bytes[n]   client bytes      1 n bytes[n]   server bytes
//   2 b            decide the oldest held request (b & 1: approve)
//   3 s            s seconds pass (tick)           4              drain for the end
// Checked on every output: what reaches the PLC is whole frames the grant allows (never a
// state change on a read-only grant), what reaches the client is whole frames, limits hold, the
// same client stream framed whole and in pieces gives the same frames, and every event encodes
// to JSON that parses.
#include <boost/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <vector>

#include "conduit/tunnel/modbus_inspector.hpp"

using namespace conduit;
using namespace conduit::tunnel;

namespace {

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

core::ModbusOptions optionsFrom(std::uint8_t b) {
  core::ModbusOptions o;
  switch (b & 3) {
    case 0:
      break;  // read-only
    case 1:
      o.readOnly = false;
      o.writes = core::WriteMode::allow;
      break;
    case 2:
      o.readOnly = false;
      o.writes = core::WriteMode::approve;
      break;
    default:
      o.readOnly = true;
      o.writes = core::WriteMode::approve;  // inconsistent: the stricter reading must win
      break;
  }
  if (b & 4) o.functionCodes = {1, 3, 4, 6, 8, 16, 23, 43, 90};
  if (b & 8) o.unitIds = {1, 0};
  if (b & 16) o.ranges = {{0, 99}, {100, 120}, {1000, 1000}, {65530, 65535}};
  return o;
}

// Every frame of `bytes` (which must be whole frames), or abort.
std::vector<std::vector<std::uint8_t>> wholeFrames(const std::vector<std::uint8_t>& bytes) {
  MbapFramer f;
  std::vector<std::vector<std::uint8_t>> frames;
  FUZZ_CHECK(!f.feed(
      bytes, [&](const MbapFrame& m) { frames.emplace_back(m.bytes.begin(), m.bytes.end()); }));
  FUZZ_CHECK(f.buffered() == 0);
  return frames;
}

// One fuzz operation carrying bytes: op, length, bytes.
void addBytes(std::vector<std::uint8_t>& input, std::uint8_t op, std::vector<std::uint8_t> bytes) {
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
  // Approve-mode grant: a read, its answer, a held write approved, its echo, time, a drain.
  std::vector<std::uint8_t> a = {2 | 8 | 16};
  addBytes(a, 0, {0, 1, 0, 0, 0, 6, 1, 3, 0, 10, 0, 2});
  addBytes(a, 1, {0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2});
  addBytes(a, 0, {0, 2, 0, 0, 0, 6, 1, 6, 0, 5, 0, 7});
  a.insert(a.end(), {2, 1});
  addBytes(a, 1, {0, 2, 0, 0, 0, 6, 1, 6, 0, 5, 0, 7});
  a.insert(a.end(), {3, 200, 4});
  seed("seed-approve", a);
  // Read-only grant with listed codes: a write split across two reads, a coil write, and an
  // exception from the PLC that answers nothing.
  std::vector<std::uint8_t> r = {4 | 16};
  addBytes(r, 0, {0, 3, 0, 0, 0});
  addBytes(r, 0, {9, 1, 16, 0, 1, 0, 1, 2, 0, 5});
  addBytes(r, 0, {0, 4, 0, 0, 0, 9, 1, 15, 0, 0, 0, 9, 2, 0xff, 1});
  addBytes(r, 1, {0, 4, 0, 0, 0, 3, 1, 0x8f, 2});
  seed("seed-readonly", r);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("CONDUIT_FUZZ_SEED_DIR");
  if (dir != nullptr && *dir != '\0') writeSeeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const core::ModbusOptions options = optionsFrom(data[0]);
  ModbusLimits limits;
  limits.maxHeld = 3;
  limits.maxInFlight = 4;
  limits.maxEventValues = 8;
  ModbusInspector insp(options, limits);
  Instant now{std::chrono::seconds{1'700'000'000}};
  std::vector<std::uint64_t> held;
  std::vector<std::uint8_t> clientStream;
  MbapFramer piecewise;
  std::vector<std::vector<std::uint8_t>> piecewiseFrames;
  const bool writesPermitted = !options.readOnly && options.writes != core::WriteMode::deny;

  auto check = [&](const InspectorOutput& out) {
    for (const auto& f : wholeFrames(out.toServer)) {
      const auto request = decodeRequest(std::span(f).subspan(kMbapHeaderBytes));
      // A request that reaches the PLC passed the grant (held ones were approved).
      FUZZ_CHECK(decideRequest(options, f[6], request).kind != ModbusVerdict::Kind::deny);
      FUZZ_CHECK(!changesState(request) || writesPermitted);
    }
    (void)wholeFrames(out.toClient);
    for (const auto& e : out.events) {
      const auto json = toJson(e);
      boost::system::error_code ec;
      (void)boost::json::parse(json, ec);
      FUZZ_CHECK(!ec);
    }
    for (const auto& h : out.held) {
      held.push_back(h.id);
      (void)toJson(h);
    }
    FUZZ_CHECK(insp.held() <= limits.maxHeld);
    FUZZ_CHECK(insp.inFlight() <= limits.maxInFlight);
    if (out.drained) FUZZ_CHECK(insp.inFlight() == 0 && insp.held() == 0);
  };

  std::size_t at = 1;
  while (at < size) {
    const std::uint8_t op = data[at++] % 5;
    if (op <= 1) {
      if (at >= size) break;
      const std::size_t length = data[at++];
      const std::size_t n = std::min(length, size - at);
      const std::span<const std::uint8_t> bytes(data + at, n);
      at += n;
      if (op == 0) {
        clientStream.insert(clientStream.end(), bytes.begin(), bytes.end());
        (void)piecewise.feed(bytes, [&](const MbapFrame& m) {
          piecewiseFrames.emplace_back(m.bytes.begin(), m.bytes.end());
        });
        check(insp.onClient(bytes, now));
      } else {
        check(insp.onServer(bytes, now));
      }
    } else if (op == 2) {
      if (at >= size) break;
      const bool approve = (data[at++] & 1) != 0;
      if (!held.empty()) {
        auto r = insp.resolveHold(held.front(), approve, now, "fuzz");
        held.erase(held.begin());
        if (r.ok()) check(*r);
      }
    } else if (op == 3) {
      if (at >= size) break;
      now += std::chrono::seconds{data[at++]};
      check(insp.tick(now));
    } else {
      check(insp.drainForEnd(now));
      FUZZ_CHECK(insp.draining());
    }
  }
  // The same stream framed in one piece gives the same frames and the same verdict.
  MbapFramer whole;
  std::vector<std::vector<std::uint8_t>> wholeStreamFrames;
  const auto failure = whole.feed(clientStream, [&](const MbapFrame& m) {
    wholeStreamFrames.emplace_back(m.bytes.begin(), m.bytes.end());
  });
  FUZZ_CHECK(wholeStreamFrames == piecewiseFrames);
  FUZZ_CHECK(failure.has_value() == piecewise.failure().has_value());
  return 0;
}
