// `conduit recording export ID --format cast --from SECONDS` through the real binary, over a
// data directory from `conduit init` holding a recording sealed and indexed as the broker does.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "conduit/access/recording_keys.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/recorder/export.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/recording_index.hpp"
#include "recorder/fixtures.hpp"
#include "recorder/session_fixture.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace conduit;
using namespace conduit::recorder;
using namespace conduit::recorder::testing;

namespace {
std::string readText(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("recording export --from writes the cast from that time, through the seek index") {
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
  const std::string id = "ssh-seek-1";
  const auto file = data / "recordings" / (id + ".crec");
  std::vector<Record> records;
  {
    auto db = store::Database::open(data / "conduit.db");
    REQUIRE(db.ok());
    core::SystemClock clock;
    access::VaultService vault(*db, clock);
    REQUIRE(vault.unsealWithKeyFile(data / "vault" / "master.key").ok());
    auto keys = access::openRecordingKeys(vault);
    REQUIRE(keys.ok());
    std::filesystem::create_directories(file.parent_path());
    WriterOptions o{.file = file, .sessionId = id};
    o.sealBytes = 128;
    auto w = RecordingWriter::create(o, *keys->wrapper);
    REQUIRE(w.ok());
    records = terminalSessionRecords(60);
    for (const auto& r : records) REQUIRE((*w)->append(r).ok());
    REQUIRE((*w)->close(*keys->signer).ok());
    // As GatewayBackendImpl::closeRecording indexes it.
    const StreamKeyWrapper* wrappers[] = {keys->wrapper.get()};
    RecordingReader reader(file, wrappers);
    auto indexed = indexRecording(reader);
    std::vector<store::RecordingSeekPoint> seek;
    for (auto& k : indexed.keyframes) {
      seek.push_back({k.point.messageIndex, k.point.atUs, k.point.offset, std::move(k.screen)});
    }
    store::RecordingIndex index(*db);
    REQUIRE(index.add({id, file.filename().string(), "alice", "hmi", clock.now(), "00"}, {}).ok());
    REQUIRE(index.addSeekPoints(id, seek).ok());
  }

  const auto cast = dir / "from45.cast";
  auto [rc, out] = conduitCli({"recording", "--data-dir", data.string(), "export", id, "--format",
                               "cast", "--from", "45", "--output", cast.string()});
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find("read from the seek point at 4") != std::string::npos);
  CHECK(out.find("reader: intact") != std::string::npos);

  // The same cast as an export that reads the whole recording and starts at 45 s.
  {
    auto db = store::Database::open(data / "conduit.db");
    REQUIRE(db.ok());
    core::SystemClock clock;
    access::VaultService vault(*db, clock);
    REQUIRE(vault.unsealWithKeyFile(data / "vault" / "master.key").ok());
    auto keys = access::openRecordingKeys(vault);
    REQUIRE(keys.ok());
    const StreamKeyWrapper* wrappers[] = {keys->wrapper.get()};
    RecordingReader reader(file, wrappers);
    AsciicastOptions options;
    options.fromUs = 45'000'000;
    std::ostringstream expected;
    exportAsciicast(reader, expected, options);
    CHECK(readText(cast) == expected.str());
  }

  // Audited like any export, with the start time.
  auto [rcAudit, audit] = conduitCli({"audit", "--data-dir", data.string(), "export"});
  REQUIRE(rcAudit == 0);
  CHECK(audit.find("\"from_us\":45000000") != std::string::npos);

  // Only casts start at a time.
  auto [rcBad, bad] =
      conduitCli({"recording", "--data-dir", data.string(), "export", id, "--format", "jsonl",
                  "--from", "45", "--output", (dir / "x.jsonl").string()});
  CHECK(rcBad != 0);
  CHECK(bad.find("--from works with --format cast only") != std::string::npos);
}
