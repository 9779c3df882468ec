// `conduit recording export ID --format desktop` through the real binary, over a data directory
// from `conduit init`: an RDP recording exports (audited), a terminal recording is refused
// without an audit event or an output file.
#include <catch2/catch.hpp>
#include <sstream>

#include "conduit/access/recording_keys.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/recorder/export.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/database.hpp"
#include "recorder/fixtures.hpp"
#include "recorder/session_fixture.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace conduit;
using namespace conduit::recorder;
using namespace conduit::recorder::testing;

namespace {

// 32x32 solid red and blue PNG images, as the RDP worker's tile encoder would send.
const std::vector<unsigned char> kRed = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x20, 0x08, 0x02, 0x00, 0x00, 0x00, 0xfc, 0x18, 0xed,
    0xa3, 0x00, 0x00, 0x00, 0x27, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0xed, 0xcd, 0xb1, 0x09, 0x00,
    0x00, 0x08, 0xc0, 0xb0, 0xfe, 0xff, 0xb4, 0x5e, 0xe1, 0x20, 0x04, 0xb2, 0xa7, 0xa9, 0x53, 0x09,
    0x04, 0x02, 0x81, 0x40, 0x20, 0x10, 0x08, 0x04, 0x82, 0x2f, 0xc1, 0x02, 0x32, 0xc3, 0xfc, 0x2e,
    0x70, 0xfd, 0x23, 0x3d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
const std::vector<unsigned char> kBlue = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x20, 0x08, 0x02, 0x00, 0x00, 0x00, 0xfc, 0x18, 0xed,
    0xa3, 0x00, 0x00, 0x00, 0x26, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0xed, 0xcd, 0xb1, 0x09, 0x00,
    0x00, 0x08, 0xc0, 0xb0, 0xfe, 0xff, 0xb4, 0x5e, 0xe1, 0x20, 0x04, 0xb2, 0xa7, 0x9a, 0x63, 0x02,
    0x81, 0x40, 0x20, 0x10, 0x08, 0x04, 0x02, 0x81, 0xe0, 0x49, 0xb0, 0x3a, 0x4b, 0xfc, 0x2e, 0x89,
    0xbc, 0xc7, 0xfb, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

std::vector<unsigned char> frameEnd(std::uint32_t sequence, bool keyframe) {
  return {static_cast<unsigned char>(sequence), 0, 0, 0, static_cast<unsigned char>(keyframe)};
}

/// A 64x32 desktop for 4 s: a keyframe (red | blue), a delta (blue on the left), a notice, a
/// second keyframe (red | red), a keystroke and the end notice.
std::vector<Record> rdpSessionRecords() {
  auto tile = [](std::uint64_t t, std::uint16_t x, const std::vector<unsigned char>& png) {
    return Record{t, 2, Direction::to_client, RecordKind::rdp_update,
                  encodeRdpTile({x, 0, 32, 32, 1, png})};
  };
  auto end = [](std::uint64_t t, std::uint32_t seq, bool key) {
    return Record{t, 2, Direction::to_client, RecordKind::rdp_update,
                  encodeRdpTile({0, 0, 0, 0, 0, frameEnd(seq, key)})};
  };
  return {
      {0, 0, Direction::none, RecordKind::marker, bytesOf("RDP session rdp-1-1 to hmi")},
      {1, 2, Direction::to_client, RecordKind::resize, encodeResize({64, 32})},
      tile(100'000, 0, kRed),
      tile(100'001, 32, kBlue),
      end(100'002, 1, true),
      tile(1'000'000, 0, kBlue),
      end(1'000'001, 2, false),
      {2'000'000, 0, Direction::none, RecordKind::marker, bytesOf("access expires in 5 minutes")},
      tile(3'000'000, 0, kRed),
      tile(3'000'001, 32, kRed),
      end(3'000'002, 3, true),
      {3'500'000, 2, Direction::to_target, RecordKind::protocol_event,
       encodeProtocolEvent({"rdp", "allow", "key Enter"})},
      {4'000'000, 0, Direction::none, RecordKind::marker, bytesOf("session ended: closed")},
  };
}

std::size_t exportEvents(store::Database& db, const std::string& target) {
  auto events = store::AuditLog(db).list();
  REQUIRE(events.ok());
  std::size_t n = 0;
  for (const auto& e : *events) {
    if (e.draft.type == "recording.exported" && e.draft.target == target) {
      CHECK(e.draft.details == R"({"format":"desktop"})");
      ++n;
    }
  }
  return n;
}

}  // namespace

TEST_CASE("recording export --format desktop exports RDP sessions only, audited") {
  test::TempDir dir;
  const auto data = dir / "data";
  auto conduitCli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), CONDUIT_BINARY);
    return test::runCommand(args);
  };
  {
    auto [rc, out] = conduitCli({"init", "--data-dir", data.string()});
    INFO(out);
    REQUIRE(rc == 0);
  }
  const std::string rdpId = "rdp-1-1";
  const std::string sshId = "ssh-term-1";
  std::string expected;
  {
    auto db = store::Database::open(data / "conduit.db");
    REQUIRE(db.ok());
    core::SystemClock clock;
    access::VaultService vault(*db, clock);
    REQUIRE(vault.unsealWithKeyFile(data / "vault" / "master.key").ok());
    auto keys = access::openRecordingKeys(vault);
    REQUIRE(keys.ok());
    std::filesystem::create_directories(data / "recordings");
    auto write = [&](const std::string& id, const std::vector<Record>& records) {
      auto w = RecordingWriter::create(
          {.file = data / "recordings" / (id + ".crec"), .sessionId = id}, *keys->wrapper);
      REQUIRE(w.ok());
      for (const auto& r : records) REQUIRE((*w)->append(r).ok());
      REQUIRE((*w)->close(*keys->signer).ok());
    };
    write(rdpId, rdpSessionRecords());
    write(sshId, terminalSessionRecords(3));
    const StreamKeyWrapper* wrappers[] = {keys->wrapper.get()};
    RecordingReader reader(data / "recordings" / (rdpId + ".crec"), wrappers);
    std::ostringstream out;
    auto summary = exportDesktop(reader, out);
    REQUIRE(summary.ok());
    CHECK(summary->recordsWritten == 12);
    CHECK(summary->recordsSkipped == 1);
    expected = out.str();
  }

  const auto cdsk = dir / "rdp.cdsk";
  {
    auto [rc, out] = conduitCli({"recording", "--data-dir", data.string(), "export", rdpId,
                                 "--format", "desktop", "--output", cdsk.string()});
    INFO(out);
    REQUIRE(rc == 0);
    CHECK(out.find("reader: intact") != std::string::npos);
  }
  CHECK(test::readText(cdsk) == expected);
  CHECK(expected.starts_with("CDSK1\n"));

  const auto refused = dir / "ssh.cdsk";
  {
    auto [rc, out] = conduitCli({"recording", "--data-dir", data.string(), "export", sshId,
                                 "--format", "desktop", "--output", refused.string()});
    INFO(out);
    CHECK(rc != 0);
    CHECK(out.find("not an RDP recording") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(refused));

  auto db = store::Database::open(data / "conduit.db");
  REQUIRE(db.ok());
  CHECK(exportEvents(*db, "session:" + rdpId) == 1);
  CHECK(exportEvents(*db, "session:" + sshId) == 0);
}
