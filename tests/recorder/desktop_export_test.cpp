#include <sodium.h>

#include <catch2/catch.hpp>
#include <sstream>
#include <thread>

#include "conduit/recorder/export.hpp"
#include "conduit/recorder/writer.hpp"
#include "recorder/fixtures.hpp"
#include "support/temp_dir.hpp"

using namespace conduit::recorder;
using namespace conduit::recorder::testing;
using conduit::test::TempDir;

namespace {

// What the broker's RDP session records (broker/rdp/src/rdp_session.cpp).
constexpr std::uint32_t kNotices = 0;
constexpr std::uint32_t kDesktop = 2;

const std::vector<unsigned char> kPng = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 1, 2, 3};
const std::vector<unsigned char> kJpeg = {0xff, 0xd8, 0xff, 0xe0, 9, 8};

std::vector<unsigned char> frameEnd(std::uint32_t sequence, bool keyframe) {
  std::vector<unsigned char> body;
  for (int i = 0; i < 4; ++i) body.push_back(static_cast<unsigned char>(sequence >> (8 * i)));
  body.push_back(keyframe ? 1 : 0);
  return body;
}

struct DesktopRecordOut {
  std::uint64_t timeUs = 0;
  int type = 0;
  std::vector<unsigned char> body;
  bool operator==(const DesktopRecordOut&) const = default;
};

std::vector<unsigned char> le(std::uint64_t v, int bytes) {
  std::vector<unsigned char> out;
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
  return out;
}
std::vector<unsigned char> cat(std::initializer_list<std::vector<unsigned char>> parts) {
  std::vector<unsigned char> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

/// Parses a desktop export strictly: the magic, then whole records to the last byte.
std::vector<DesktopRecordOut> parseDesktop(const std::string& stream) {
  REQUIRE(stream.substr(0, 6) == "CDSK1\n");
  std::vector<DesktopRecordOut> out;
  std::size_t pos = 6;
  auto u = [&](std::size_t at, int bytes) {
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) {
      v = (v << 8) | static_cast<unsigned char>(stream[at + static_cast<std::size_t>(i)]);
    }
    return v;
  };
  while (pos < stream.size()) {
    REQUIRE(pos + 13 <= stream.size());
    DesktopRecordOut r;
    r.timeUs = u(pos, 8);
    r.type = static_cast<unsigned char>(stream[pos + 8]);
    const auto length = static_cast<std::size_t>(u(pos + 9, 4));
    pos += 13;
    REQUIRE(pos + length <= stream.size());
    r.body.assign(stream.begin() + static_cast<std::ptrdiff_t>(pos),
                  stream.begin() + static_cast<std::ptrdiff_t>(pos + length));
    pos += length;
    out.push_back(std::move(r));
  }
  return out;
}

/// The recording of an RDP session; with `messagePerRecord` each record is sealed in a
/// message of its own (for truncation).
std::filesystem::path rdpSession(const TempDir& dir, StreamKeyWrapper& vault,
                                 const ManifestSigner& signer, bool messagePerRecord = false) {
  const auto file = dir / "rdp.crec";
  WriterOptions options{.file = file, .sessionId = "rdp-1700000000-1"};
  if (messagePerRecord) options.sealBytes = 1;
  auto w = RecordingWriter::create(options, vault);
  REQUIRE(w.ok());
  auto put = [&](std::uint64_t t, std::uint32_t channel, RecordKind k, Direction d,
                 std::vector<unsigned char> p) {
    REQUIRE((*w)->append(Record{t, channel, d, k, std::move(p)}).ok());
    while (messagePerRecord && (*w)->queuedBytes() > 0) std::this_thread::yield();
  };
  put(0, kNotices, RecordKind::marker, Direction::none, bytesOf("RDP session to hmi-3"));
  put(10, kDesktop, RecordKind::resize, Direction::to_client, encodeResize({1280, 800}));
  // A keyframe: two tiles covering the desktop, then its frame end.
  put(50'000, kDesktop, RecordKind::rdp_update, Direction::to_client,
      encodeRdpTile({0, 0, 1280, 400, 1, kPng}));
  put(50'001, kDesktop, RecordKind::rdp_update, Direction::to_client,
      encodeRdpTile({0, 400, 1280, 400, 2, kJpeg}));
  put(50'002, kDesktop, RecordKind::rdp_update, Direction::to_client,
      encodeRdpTile({0, 0, 0, 0, 0, frameEnd(1, true)}));
  // A keystroke (never in the desktop stream), a terminal record and a marker on another
  // channel (skipped), an invalid UTF-8 notice (repaired).
  put(60'000, kDesktop, RecordKind::protocol_event, Direction::to_target,
      encodeProtocolEvent({"rdp", "allow", "key a"}));
  put(61'000, 1, RecordKind::terminal_output, Direction::to_client, bytesOf("x"));
  put(62'000, 1, RecordKind::marker, Direction::none, bytesOf("other channel"));
  put(70'000, kNotices, RecordKind::marker, Direction::none, bytesOf("warn \xff"));
  // Clipboard text both ways, and a copy refused by a policy changed mid-session: notices.
  put(80'000, kDesktop, RecordKind::protocol_event, Direction::to_target,
      encodeProtocolEvent({"clipboard", "allow", "setpoint 42"}));
  put(81'000, kDesktop, RecordKind::protocol_event, Direction::to_client,
      encodeProtocolEvent({"clipboard", "allow", "alarm list"}));
  put(82'000, kDesktop, RecordKind::protocol_event, Direction::to_client,
      encodeProtocolEvent({"clipboard", "deny", "12 bytes copied on the target, not passed on"}));
  // A delta frame, then malformed updates (unknown format, bad frame end) that are skipped.
  put(100'000, kDesktop, RecordKind::rdp_update, Direction::to_client,
      encodeRdpTile({64, 32, 16, 8, 1, kPng}));
  put(100'001, kDesktop, RecordKind::rdp_update, Direction::to_client,
      encodeRdpTile({0, 0, 16, 16, 7, kPng}));
  put(100'002, kDesktop, RecordKind::rdp_update, Direction::to_client,
      encodeRdpTile({0, 0, 0, 0, 0, {1, 2}}));
  put(100'003, kDesktop, RecordKind::rdp_update, Direction::to_client,
      encodeRdpTile({0, 0, 0, 0, 0, frameEnd(0x01020304, false)}));
  put(200'000, kNotices, RecordKind::marker, Direction::none, bytesOf("session ended: closed"));
  REQUIRE((*w)->close(signer).ok());
  return file;
}

}  // namespace

TEST_CASE("desktop export writes sizes, tiles, frame ends and notices in order") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = rdpSession(dir, vault, *broker.signer);
  RecordingReader reader(file, keyList(vault));
  std::ostringstream out;
  auto summary = exportDesktop(reader, out);
  REQUIRE(summary.ok());
  CHECK(summary->source.verdict == Verdict::intact);
  CHECK(summary->recordsWritten == 12);
  CHECK(summary->recordsSkipped == 5);

  const std::vector<DesktopRecordOut> want = {
      {0, 4, bytesOf("RDP session to hmi-3")},
      {10, 1, cat({le(1280, 2), le(800, 2)})},
      {50'000, 2, cat({le(0, 2), le(0, 2), le(1280, 2), le(400, 2), {1}, kPng})},
      {50'001, 2, cat({le(0, 2), le(400, 2), le(1280, 2), le(400, 2), {2}, kJpeg})},
      {50'002, 3, {1, 0, 0, 0, 1}},
      {70'000, 4, bytesOf("warn \xef\xbf\xbd")},
      {80'000, 4, bytesOf("clipboard, pasted by the vendor: setpoint 42")},
      {81'000, 4, bytesOf("clipboard, copied on the target: alarm list")},
      {82'000, 4,
       bytesOf("clipboard, copied on the target (refused): 12 bytes copied on the target, not "
               "passed on")},
      {100'000, 2, cat({le(64, 2), le(32, 2), le(16, 2), le(8, 2), {1}, kPng})},
      {100'003, 3, {4, 3, 2, 1, 0}},
      {200'000, 4, bytesOf("session ended: closed")},
  };
  CHECK(parseDesktop(out.str()) == want);
}

TEST_CASE("hasDesktop finds the first tile and refuses terminal recordings") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto rdp = rdpSession(dir, vault, *broker.signer);
  RecordingReader reader(rdp, keyList(vault));
  CHECK(hasDesktop(reader));

  const auto file = dir / "term.crec";
  auto w = RecordingWriter::create({.file = file, .sessionId = "sess-term"}, vault);
  REQUIRE(w.ok());
  REQUIRE(
      (*w)->append(Record{0, kNotices, Direction::none, RecordKind::marker, bytesOf("SSH session")})
          .ok());
  // A terminal on channel 2 has resizes there too: not a desktop.
  REQUIRE((*w)->append(Record{5, kDesktop, Direction::to_target, RecordKind::resize,
                              encodeResize({80, 24})})
              .ok());
  REQUIRE((*w)->append(Record{9, kDesktop, Direction::to_client, RecordKind::terminal_output,
                              bytesOf("$ ")})
              .ok());
  REQUIRE((*w)->close(*broker.signer).ok());
  RecordingReader termProbe(file, keyList(vault));
  CHECK_FALSE(hasDesktop(termProbe));

  RecordingReader term(file, keyList(vault));
  std::ostringstream out;
  auto summary = exportDesktop(term, out);
  REQUIRE_FALSE(summary.ok());
  CHECK(summary.error().code == conduit::core::ErrorCode::invalid_argument);
  CHECK(summary.error().message == "not an RDP recording");
  CHECK(out.str().empty());
}

TEST_CASE("desktop export of a truncated RDP recording keeps the readable prefix") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = rdpSession(dir, vault, *broker.signer, true);
  auto bytes = readBytes(file);
  const auto messages = messagesOf(bytes);
  REQUIRE(messages.size() >= 6);
  bytes.resize(messages[5].offset);  // keep at most the first five records
  writeBytes(file, bytes);
  RecordingReader reader(file, keyList(vault));
  std::ostringstream out;
  auto summary = exportDesktop(reader, out);
  REQUIRE(summary.ok());
  CHECK(summary->source.verdict == Verdict::truncated);
  const auto records = parseDesktop(out.str());
  REQUIRE(!records.empty());
  REQUIRE(records.size() <= 5);
  CHECK(records[0] == DesktopRecordOut{0, 4, bytesOf("RDP session to hmi-3")});
  CHECK(records.back().timeUs <= 50'002);
}

TEST_CASE("desktop export of an RDP recording cut before its first tile is refused") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = rdpSession(dir, vault, *broker.signer, true);
  auto bytes = readBytes(file);
  const auto messages = messagesOf(bytes);
  REQUIRE(messages.size() >= 3);
  bytes.resize(messages[2].offset);  // the start notice and the size only
  writeBytes(file, bytes);
  RecordingReader reader(file, keyList(vault));
  std::ostringstream out;
  auto summary = exportDesktop(reader, out);
  REQUIRE_FALSE(summary.ok());
  CHECK(summary.error().message.starts_with("not an RDP recording, or no desktop record"));
  CHECK(out.str().empty());
}
