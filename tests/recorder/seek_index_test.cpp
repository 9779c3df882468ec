// The seek index in the database (migration 0009): rows written at sealing as
// GatewayBackendImpl::closeRecording writes them, and found again to start reading at a time.
#include <algorithm>
#include <catch2/catch.hpp>

#include "conduit/recorder/export.hpp"
#include "conduit/recorder/reader.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/migrations.hpp"
#include "conduit/store/recording_index.hpp"
#include "recorder/fixtures.hpp"
#include "recorder/session_fixture.hpp"
#include "support/temp_dir.hpp"

using namespace conduit;
using namespace conduit::recorder;
using namespace conduit::recorder::testing;
using conduit::test::TempDir;

namespace {

// What closeRecording does after the manifest is signed.
void indexSealed(store::Database& db, const std::filesystem::path& file,
                 const StreamKeyWrapper& vault, const std::string& sessionId) {
  RecordingReader reader(file, keyList(vault));
  auto indexed = indexRecording(reader);
  REQUIRE(indexed.source.verdict == Verdict::intact);
  std::vector<std::pair<std::uint64_t, std::string>> lines;
  for (auto& l : indexed.lines) lines.emplace_back(l.timeUs, std::move(l.text));
  std::vector<store::RecordingSeekPoint> seek;
  for (auto& k : indexed.keyframes) {
    seek.push_back({k.point.messageIndex, k.point.atUs, k.point.offset, std::move(k.screen)});
  }
  store::RecordingIndex index(db);
  REQUIRE(index.add({sessionId, file.filename().string(), "alice", "hmi", {}, "00"}, lines).ok());
  REQUIRE(index.addSeekPoints(sessionId, seek).ok());
}

store::Database migratedDatabase(const TempDir& dir) {
  auto db = store::Database::open(dir / "conduit.db");
  REQUIRE(db.ok());
  REQUIRE(store::migrate(*db).ok());
  return std::move(*db);
}

}  // namespace

TEST_CASE("sealing stores increasing seek points that lead to the right records") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "sess-seek.crec";
  const auto records = writeTerminalSession(file, vault, *broker.signer, 60);
  auto db = migratedDatabase(dir);
  indexSealed(db, file, vault, "sess-seek");
  store::RecordingIndex index(db);

  const auto rows = index.seekPoints("sess-seek");
  REQUIRE(rows.ok());
  REQUIRE(rows->size() >= 11);  // the start and a segment about every 5 s
  CHECK(rows->front().messageIndex == 0);
  CHECK(rows->front().atUs == 0);
  CHECK(rows->front().screen.empty());  // nothing on the terminal before the first record
  for (std::size_t i = 1; i < rows->size(); ++i) {
    const auto& a = (*rows)[i - 1];
    const auto& b = (*rows)[i];
    CHECK(b.messageIndex > a.messageIndex);
    CHECK(b.atUs > a.atUs);
    CHECK(b.offset > a.offset);
    CHECK(TerminalScreen::parse(b.screen));
  }

  for (const std::uint64_t target : {1ull, 5'000'000ull, 27'300'000ull, 45'000'000ull}) {
    const auto point = index.seekPointBefore("sess-seek", target);
    REQUIRE(point.ok());
    REQUIRE(point->has_value());
    CHECK((*point)->atUs < target);
    RecordingReader reader(file, keyList(vault));
    REQUIRE(reader.seek({(*point)->messageIndex, (*point)->atUs, (*point)->offset}));
    std::optional<Record> first;
    while (auto r = reader.next()) {
      if (r->timeUs >= target) {
        first = std::move(r);
        break;
      }
    }
    const auto expected = std::find_if(records.begin(), records.end(),
                                       [&](const Record& r) { return r.timeUs >= target; });
    REQUIRE(first);
    CHECK(*first == *expected);
  }
  // Before the first record there is nothing to skip: read from the start.
  const auto none = index.seekPointBefore("sess-seek", 0);
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());

  // Forgetting the recording (retention) forgets its seek points.
  REQUIRE(index.remove("sess-seek").ok());
  CHECK(index.seekPoints("sess-seek")->empty());
}

TEST_CASE("seek points that do not increase are refused") {
  TempDir dir;
  auto db = migratedDatabase(dir);
  store::RecordingIndex index(db);
  REQUIRE(index.add({"sess-x", "sess-x.crec", "", "", {}, "00"}, {}).ok());
  CHECK_FALSE(index.addSeekPoints("sess-x", {{0, 0, 100, ""}, {0, 10, 200, ""}}).ok());
  CHECK_FALSE(index.addSeekPoints("sess-x", {{0, 10, 100, ""}, {1, 5, 200, ""}}).ok());
  CHECK_FALSE(index.addSeekPoints("sess-x", {{0, 0, 100, ""}, {1, 10, 100, ""}}).ok());
  CHECK(index.seekPoints("sess-x")->empty());
  CHECK(index.addSeekPoints("sess-x", {{0, 0, 100, ""}, {3, 0, 900, ""}}).ok());
  // Rows belong to a sealed recording.
  CHECK_FALSE(index.addSeekPoints("sess-unknown", {{0, 0, 100, ""}}).ok());
}
