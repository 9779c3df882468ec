// `conduit recording export ID --format cast --from SECONDS`, `search` and `reindex` through the
// real binary, over a data directory from `conduit init` holding a recording sealed and indexed
// as the broker does.
#include <catch2/catch.hpp>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include "conduit/access/recording_keys.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/recorder/export.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/migrations.hpp"
#include "conduit/store/recording_index.hpp"
#include "recorder/cli_keys.hpp"
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

namespace {

/// A data directory from `conduit init` holding recording ID of terminalSessionRecords(60),
/// sealed and indexed as the broker does (GatewayBackendImpl::closeRecording), all its text
/// lines included unless `textLines` says how many.
struct SealedSession {
  test::TempDir dir;
  std::filesystem::path data = dir / "data";
  std::string id = "ssh-seek-1";
  std::filesystem::path file = data / "recordings" / (id + ".crec");
  std::vector<Record> records;

  explicit SealedSession(std::optional<std::size_t> textLines = std::nullopt) {
    {
      auto [rc, out] = cli({"init", "--data-dir", data.string()});
      INFO(out);
      REQUIRE(rc == 0);
    }
    auto keys = recordingKeysOf(data);
    std::filesystem::create_directories(file.parent_path());
    WriterOptions o{.file = file, .sessionId = id};
    o.sealBytes = 128;
    auto w = RecordingWriter::create(o, *keys.wrapper);
    REQUIRE(w.ok());
    records = terminalSessionRecords(60);
    for (const auto& r : records) REQUIRE((*w)->append(r).ok());
    REQUIRE((*w)->close(*keys.signer).ok());
    const StreamKeyWrapper* wrappers[] = {keys.wrapper.get()};
    RecordingReader reader(file, wrappers);
    auto indexed = indexRecording(reader);
    std::vector<store::RecordingSeekPoint> seek;
    for (auto& k : indexed.keyframes) {
      seek.push_back({k.point.messageIndex, k.point.atUs, k.point.offset, std::move(k.screen)});
    }
    std::vector<std::pair<std::uint64_t, std::string>> lines;
    for (auto& l : indexed.lines) lines.emplace_back(l.timeUs, std::move(l.text));
    REQUIRE(lines.size() > 100);
    auto db = store::Database::open(data / "conduit.db");
    REQUIRE(db.ok());
    core::SystemClock clock;
    store::RecordingIndex index(*db);
    REQUIRE(index.add({id, file.filename().string(), "alice", "hmi", clock.now(), "00"}, {}).ok());
    REQUIRE(index.addSeekPoints(id, seek).ok());
    auto generation = index.startTextIndex(id);
    REQUIRE(generation.ok());
    if (textLines) {
      // As a broker stopped between two of the text's transactions leaves it.
      lines.resize(*textLines);
      REQUIRE(index.addLines(id, lines).ok());
    } else {
      REQUIRE(store::indexTextInChunks(
                  *db, id, lines, 50, [] { return std::unique_lock<std::mutex>(); }, *generation)
                  .ok());
    }
  }

  std::pair<int, std::string> cli(std::vector<std::string> args) const {
    args.insert(args.begin(), CONDUIT_BINARY);
    return test::runCommand(args);
  }
};

}  // namespace

TEST_CASE("recording export --from writes the cast from that time, through the seek index") {
  SealedSession sealed;
  const auto& dir = sealed.dir;
  const auto& data = sealed.data;
  const auto& id = sealed.id;
  const auto& file = sealed.file;
  auto conduitCli = [&](std::vector<std::string> args) { return sealed.cli(std::move(args)); };

  const auto cast = dir / "from45.cast";
  auto [rc, out] = conduitCli({"recording", "--data-dir", data.string(), "export", id, "--format",
                               "cast", "--from", "45", "--output", cast.string()});
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find("read from the seek point at 4") != std::string::npos);
  CHECK(out.find("reader: intact") != std::string::npos);

  // The same cast as an export that reads the whole recording and starts at 45 s.
  {
    auto keys = recordingKeysOf(data);
    const StreamKeyWrapper* wrappers[] = {keys.wrapper.get()};
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

TEST_CASE("search says when a recording's text index is incomplete, and reindex completes it") {
  SealedSession sealed(10);  // 10 lines of the text went in, then the broker stopped
  const std::string dataDir = sealed.data.string();
  auto [rcBefore, before] = sealed.cli({"recording", "--data-dir", dataDir, "search", "step-99"});
  INFO(before);
  CHECK(rcBefore == 0);
  CHECK(before.find("no session matches") != std::string::npos);
  CHECK(before.find("note: the text index of ssh-seek-1 is incomplete") != std::string::npos);

  auto [rcRe, re] = sealed.cli({"recording", "--data-dir", dataDir, "reindex", "ssh-seek-1"});
  INFO(re);
  REQUIRE(rcRe == 0);
  CHECK(re.find("line(s) indexed") != std::string::npos);
  auto [rcAfter, after] = sealed.cli({"recording", "--data-dir", dataDir, "search", "step-99"});
  INFO(after);
  CHECK(rcAfter == 0);
  CHECK(after.find("ssh-seek-1") != std::string::npos);
  CHECK(after.find("note:") == std::string::npos);
  // Indexed once: the 10 lines from before were replaced, not doubled.
  {
    auto db = store::Database::open(sealed.data / "conduit.db");
    REQUIRE(db.ok());
    auto hits = store::RecordingIndex(*db).search("step-3");
    REQUIRE(hits.ok());
    REQUIRE(hits->size() == 1);
    CHECK(hits->front().recording.textIndexed);
    // As many matching lines as a recording whose text went in completely at sealing.
    SealedSession whole;
    auto wholeDb = store::Database::open(whole.data / "conduit.db");
    REQUIRE(wholeDb.ok());
    auto wholeHits = store::RecordingIndex(*wholeDb).search("step-3");
    REQUIRE(wholeHits.ok());
    REQUIRE(wholeHits->size() == 1);
    CHECK(hits->front().matches == wholeHits->front().matches);
    CHECK(hits->front().matches >= 2);
  }
  auto [rcAudit, audit] = sealed.cli({"audit", "--data-dir", dataDir, "export"});
  REQUIRE(rcAudit == 0);
  CHECK(audit.find("\"type\":\"recording.reindexed\"") != std::string::npos);

  // A file that cannot be read is not indexed again: the text the index has stays.
  {
    std::fstream f(sealed.file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.write("XXXX", 4);  // the magic
  }
  auto [rcBad, bad] = sealed.cli({"recording", "--data-dir", dataDir, "reindex", "ssh-seek-1"});
  CHECK(rcBad != 0);
  CHECK(bad.find("cannot read recording ssh-seek-1: not_a_recording") != std::string::npos);
  auto [rcStill, still] = sealed.cli({"recording", "--data-dir", dataDir, "search", "step-99"});
  CHECK(still.find("ssh-seek-1") != std::string::npos);
  CHECK(still.find("note:") == std::string::npos);

  auto [rcUnknown, unknown] =
      sealed.cli({"recording", "--data-dir", dataDir, "reindex", "ssh-no-such-1"});
  CHECK(rcUnknown != 0);
  CHECK(unknown.find("no recording for session ssh-no-such-1") != std::string::npos);
}

TEST_CASE(
    "text lines of a recording that is no longer in the index, or of a superseded run, are "
    "refused") {
  test::TempDir dir;
  auto db = store::Database::open(dir / "conduit.db");
  REQUIRE(db.ok());
  REQUIRE(store::migrate(*db).ok());
  store::RecordingIndex index(*db);
  const std::vector<std::pair<std::uint64_t, std::string>> lines = {{1, "one"}, {2, "two"}};
  const auto noLock = [] { return std::unique_lock<std::mutex>(); };
  auto gone = store::indexTextInChunks(*db, "ssh-gone-1", lines, 1, noLock, 1);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == core::ErrorCode::not_found);
  CHECK_FALSE(index.search("one").value().size() > 0);
  REQUIRE(index.add({"ssh-here-1", "f.crec", "alice", "hmi", core::TimePoint{}, "00"}, {}).ok());
  const auto first = index.startTextIndex("ssh-here-1");
  REQUIRE(first.ok());
  CHECK(index.textIncomplete().value().size() == 1);
  // A second run (a reindex) started: the first one's lines go in no more.
  const auto second = index.startTextIndex("ssh-here-1");
  REQUIRE(second.ok());
  CHECK(*second == *first + 1);
  auto superseded = store::indexTextInChunks(*db, "ssh-here-1", lines, 1, noLock, *first);
  REQUIRE_FALSE(superseded.ok());
  CHECK(superseded.error().code == core::ErrorCode::conflict);
  CHECK(index.search("one").value().empty());
  REQUIRE(store::indexTextInChunks(*db, "ssh-here-1", lines, 1, noLock, *second).ok());
  CHECK(index.textIncomplete().value().empty());
  CHECK(index.search("two").value().size() == 1);
  CHECK(index.search("two").value().front().matches == 1);
}
