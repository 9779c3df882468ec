// Segments and seeking (format version 2): seek points, seeking to a time, tampering with
// segments, reading version 1 files, the terminal screen model and casts that start at a time.
#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>

#include "conduit/recorder/export.hpp"
#include "conduit/recorder/reader.hpp"
#include "conduit/recorder/screen.hpp"
#include "conduit/recorder/writer.hpp"
#include "recorder/fixtures.hpp"
#include "recorder/session_fixture.hpp"
#include "support/temp_dir.hpp"

using namespace conduit::recorder;
using namespace conduit::recorder::testing;
using conduit::test::TempDir;

namespace {

std::vector<std::string> castLines(const std::string& cast) {
  std::vector<std::string> out;
  std::istringstream in(cast);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// "[12.345678, ..." -> 12345678
std::uint64_t eventUs(const std::string& line) {
  const auto dot = line.find('.');
  return std::stoull(line.substr(1, dot - 1)) * 1000000 + std::stoull(line.substr(dot + 1, 6));
}

std::string eventAt(std::uint64_t us, const std::string& line) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "[%llu.%06llu", static_cast<unsigned long long>(us / 1000000),
                static_cast<unsigned long long>(us % 1000000));
  return buf + line.substr(line.find(','));
}

std::string exportCast(RecordingReader& reader, const AsciicastOptions& options = {}) {
  std::ostringstream out;
  const auto summary = exportAsciicast(reader, out, options);
  INFO(summary.source.message);
  CHECK(summary.source.verdict == Verdict::intact);
  return out.str();
}

}  // namespace

TEST_CASE("the writer starts a segment every few seconds and the reader lists seek points") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "s.crec";
  const auto records = writeTerminalSession(file, vault, *broker.signer, 60);
  const auto bytes = readBytes(file);
  const auto markers = segmentsOf(bytes);
  // 60 s with a segment due every 5 s (at the next batch boundary).
  CHECK(markers.size() >= 10);
  CHECK(markers.size() <= 12);

  RecordingReader reader(file, keyList(vault));
  std::vector<Record> read;
  while (auto r = reader.next()) read.push_back(std::move(*r));
  INFO(reader.status().message);
  REQUIRE(reader.status().verdict == Verdict::intact);
  CHECK(read == records);
  CHECK(reader.header().formatVersion == 2);

  const auto& points = reader.seekPoints();
  REQUIRE(points.size() == markers.size() + 1);
  CHECK(points[0] == SeekPoint{0, records.front().timeUs, reader.header().encodedSize});
  for (std::size_t i = 1; i < points.size(); ++i) {
    CHECK(points[i].offset == markers[i - 1].offset);
    CHECK(points[i].messageIndex > points[i - 1].messageIndex);
    CHECK(points[i].atUs > points[i - 1].atUs);
    CHECK(points[i].offset > points[i - 1].offset);
    // 5 s apart at least (in record time), and not much more: batches are small here.
    CHECK(points[i].atUs - points[i - 1].atUs >= 5'000'000);
    CHECK(points[i].atUs - points[i - 1].atUs < 6'000'000);
  }
  // The signed manifest still verifies (markers are part of the hashed file).
  CHECK(verifyRecording(file, keyList(vault), broker.publicKey()).status.verdict ==
        Verdict::intact);
}

TEST_CASE("seeking to a time returns the first record at or after it") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "s.crec";
  const auto records = writeTerminalSession(file, vault, *broker.signer, 60);
  std::vector<SeekPoint> points;
  {
    RecordingReader all(file, keyList(vault));
    while (all.next()) {
    }
    points = all.seekPoints();
  }
  const std::uint64_t target = GENERATE(0ull, 1ull, 7'400'000ull, 31'000'000ull, 45'250'000ull,
                                        59'999'000ull, 90'000'000ull);
  // The last point before the target, as the database picks it.
  const SeekPoint* best = &points.front();
  for (const auto& p : points) {
    if (p.atUs < target) best = &p;
  }
  RecordingReader reader(file, keyList(vault));
  REQUIRE(reader.seek(*best));
  std::optional<Record> first;
  std::size_t skipped = 0;
  while (auto r = reader.next()) {
    if (r->timeUs >= target) {
      first = std::move(r);
      break;
    }
    ++skipped;
  }
  const auto expected = std::find_if(records.begin(), records.end(),
                                     [&](const Record& r) { return r.timeUs >= target; });
  if (expected == records.end()) {
    CHECK_FALSE(first);
  } else {
    REQUIRE(first);
    CHECK(*first == *expected);
    // At most a segment's worth (about 5 s at 4 records per second) was read and skipped.
    CHECK(skipped <= 30);
  }
  while (reader.next()) {
  }
  INFO(reader.status().message);
  CHECK(reader.status().verdict == Verdict::intact);
}

TEST_CASE("a seek point that does not match the file is refused and reading restarts") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "s.crec";
  writeTerminalSession(file, vault, *broker.signer, 20);
  RecordingReader all(file, keyList(vault));
  while (all.next()) {
  }
  REQUIRE(all.seekPoints().size() >= 3);
  auto p = all.seekPoints()[2];
  SECTION("wrong offset") {
    p.offset += 1;
  }
  SECTION("wrong message index") {
    p.messageIndex += 1;
  }
  SECTION("past the end") {
    p.offset = 1u << 30;
  }
  RecordingReader reader(file, keyList(vault));
  CHECK_FALSE(reader.seek(p));
  CHECK(reader.status().verdict != Verdict::intact);
  CHECK_FALSE(reader.next());
  // The same reader can still start over at the first point.
  REQUIRE(reader.seek(all.seekPoints()[0]));
  std::size_t n = 0;
  while (reader.next()) ++n;
  CHECK(reader.status().verdict == Verdict::intact);
  CHECK(n > 0);
}

TEST_CASE("removed, reordered or cut segments are detected") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "s.crec";
  writeTerminalSession(file, vault, *broker.signer, 30);
  const auto bytes = readBytes(file);
  const auto markers = segmentsOf(bytes);
  const auto messages = messagesOf(bytes);
  REQUIRE(markers.size() >= 4);
  auto range = [&](std::size_t from, std::size_t to) {
    return std::vector<unsigned char>(bytes.begin() + static_cast<std::ptrdiff_t>(from),
                                      bytes.begin() + static_cast<std::ptrdiff_t>(to));
  };
  std::vector<unsigned char> b;
  Verdict expected = Verdict::corrupt;
  SECTION("a whole segment removed") {
    b = range(0, markers[1].offset);
    const auto rest = range(markers[2].offset, bytes.size());
    b.insert(b.end(), rest.begin(), rest.end());
  }
  SECTION("two segments swapped") {
    b = range(0, markers[1].offset);
    const auto second = range(markers[2].offset, markers[3].offset);
    const auto first = range(markers[1].offset, markers[2].offset);
    b.insert(b.end(), second.begin(), second.end());
    b.insert(b.end(), first.begin(), first.end());
    const auto rest = range(markers[3].offset, bytes.size());
    b.insert(b.end(), rest.begin(), rest.end());
  }
  SECTION("the last message of a segment removed") {
    const auto last = std::find_if(messages.rbegin(), messages.rend(), [&](const MessageSpan& m) {
      return m.offset < markers[1].offset;
    });
    b = range(0, last->offset);
    const auto rest = range(markers[1].offset, bytes.size());
    b.insert(b.end(), rest.begin(), rest.end());
  }
  SECTION("a flipped byte in a marker's stream header") {
    b = bytes;
    b[markers[1].offset + 20] ^= 0x01;
  }
  SECTION("a flipped byte in a marker's segment number") {
    b = bytes;
    b[markers[1].offset + 4] ^= 0x01;
  }
  SECTION("the file cut inside a marker") {
    b = range(0, markers[2].offset + 10);
    expected = Verdict::truncated;
  }
  SECTION("the file cut right after a marker") {
    b = range(0, markers[2].offset + kSegmentMarkerBytes);
    expected = Verdict::truncated;
  }
  writeBytes(file, b);
  const auto all = readAll(file, keyList(vault));
  INFO(all.status.message);
  CHECK(all.status.verdict == expected);
  CHECK_FALSE(all.records.empty());  // the prefix before the damage is still returned
}

TEST_CASE("segments also start by size in bulk data") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "bulk.crec";
  WriterOptions o{.file = file, .sessionId = "sess-bulk"};
  o.sealBytes = 16u << 10;
  o.segmentBytes = 64u << 10;
  auto w = RecordingWriter::create(o, vault);
  REQUIRE(w.ok());
  std::vector<Record> records;
  for (std::uint64_t i = 0; i < 64; ++i) {
    records.push_back(
        {i, 0, Direction::to_client, RecordKind::tunnel_bytes, randomBytes(16u << 10)});
    REQUIRE((*w)->append(records.back()).ok());
  }
  REQUIRE((*w)->close(*broker.signer).ok());
  const auto markers = segmentsOf(readBytes(file));
  CHECK(markers.size() >= 10);  // 1 MiB in segments of 64 KiB + one batch
  const auto all = readAll(file, keyList(vault));
  REQUIRE(all.status.verdict == Verdict::intact);
  CHECK(all.records == records);
}

TEST_CASE("version 1 recordings (before segments) still read and verify") {
  // tests/recorder/data/v1_session.crec was written by the version 1 writer (before segment
  // markers) with a fixed vault key and signing seed; its records are v1FixtureRecords().
  const std::filesystem::path file =
      std::filesystem::path(CONDUIT_SOURCE_DIR) / "tests/recorder/data/v1_session.crec";
  std::array<unsigned char, 32> kek{};
  kek.fill(0x42);
  TestVaultWrapper vault("vault:fixture", kek);
  std::array<unsigned char, 32> seed{};
  seed.fill(0x07);
  Ed25519ManifestSigner signer(seed);

  const auto all = readAll(file, keyList(vault));
  INFO(all.status.message);
  CHECK(all.status.verdict == Verdict::intact);
  CHECK(all.header.formatVersion == 1);
  CHECK(all.header.sessionId == "sess-v1-fixture");
  CHECK(all.records == v1FixtureRecords());
  CHECK(verifyRecording(file, keyList(vault), signer.publicKey()).status.verdict ==
        Verdict::intact);

  RecordingReader reader(file, keyList(vault));
  while (reader.next()) {
  }
  REQUIRE(reader.seekPoints().size() == 1);  // one segment: the whole file
  const auto start = reader.seekPoints()[0];
  CHECK(start.offset == reader.header().encodedSize);
  CHECK(reader.seek(start));
  std::size_t n = 0;
  while (reader.next()) ++n;
  CHECK(n == all.records.size());
  CHECK_FALSE(reader.seek({1, 0, start.offset + 100}));  // nowhere else to start

  // Its casts and text export as before.
  RecordingReader castReader(file, keyList(vault));
  const auto cast = exportCast(castReader);
  CHECK(cast.find("line-39") != std::string::npos);
}

TEST_CASE("the terminal screen model keeps what a player would show") {
  TerminalScreen screen({20, 5});
  auto text = [&](const std::string& t) {
    screen.feed(Record{0, 0, Direction::to_client, RecordKind::terminal_output, bytesOf(t)});
  };
  text("\x1b[1;32mplc\x1b[0m:~$ ls\r\nfile1  file2\r\nplc:~$ ");
  CHECK(screen.row(0) == "plc:~$ ls");
  CHECK(screen.row(1) == "file1  file2");
  CHECK(screen.row(2) == "plc:~$");  // trailing blanks are not part of the row

  SECTION("scrolling drops the top line") {
    text("\r\n1\r\n2\r\n3");
    CHECK(screen.row(0) == "file1  file2");
    CHECK(screen.row(3) == "2");
    CHECK(screen.row(4) == "3");
  }
  SECTION("clear, cursor addressing and erase") {
    text("\x1b[H\x1b[2Jtop\x1b[3;5Hmid\x1b[1;2H\x1b[K");
    CHECK(screen.row(0) == "t");
    CHECK(screen.row(2) == "    mid");
  }
  SECTION("backspace and carriage return overwrite") {
    text("abc\x08X\rZ");
    CHECK(screen.row(2) == "Zlc:~$ abX");
  }
  SECTION("long lines wrap") {
    text("\r\n0123456789012345678901234");
    CHECK(screen.row(3) == "01234567890123456789");
    CHECK(screen.row(4) == "01234");
  }
  SECTION("the alternate screen is restored on exit") {
    text("\x1b[?1049h\x1b[Hvim here");
    CHECK(screen.row(0) == "vim here");
    text("\x1b[?1049l");
    CHECK(screen.row(0) == "plc:~$ ls");
  }
  SECTION("UTF-8, also split across records") {
    text("\xc3");
    text("\xa4\xe2\x82\xac");
    CHECK(screen.row(2) == "plc:~$ \xc3\xa4\xe2\x82\xac");
  }
  SECTION("serialize and parse give the same screen") {
    text("\x1b[2;3r\x1b[4;7H");
    const auto again = TerminalScreen::parse(screen.serialize());
    REQUIRE(again);
    CHECK(again->serialize() == screen.serialize());
    CHECK(again->redraw() == screen.redraw());
    CHECK(again->size() == TerminalSize{20, 5});
  }
  SECTION("hostile sizes and keyframes") {
    screen.resize({1u << 30, 0});
    CHECK(screen.size() == TerminalSize{TerminalScreen::kMaxColumns, 1});
    CHECK_FALSE(TerminalScreen::parse(""));
    CHECK_FALSE(TerminalScreen::parse("screen 1 80 24 0 0 0 0 23 0"));  // no newline
    CHECK_FALSE(TerminalScreen::parse("screen 1 80 24 30 0 0 0 23 0\n"));
    CHECK_FALSE(TerminalScreen::parse("screen 1 99999 24 0 0 0 0 23 0\n"));
    CHECK_FALSE(TerminalScreen::parse("screen 1 3 2 0 0 0 0 1 0\nabcd\n"));
    CHECK_FALSE(TerminalScreen::parse("screen 1 3 2 0 0 0 0 1 0\na\x1b\n"));
    CHECK_FALSE(TerminalScreen::parse("screen 1 3 2 0 0 0 0 1 0\na\nb\nc\n"));
    CHECK(TerminalScreen::parse("screen 1 3 2 0 0 0 0 1 0\nabc\n"));
  }
  SECTION("a run of NUL bytes acts as one NUL, as in a terminal") {
    // Binary output (a download of zeros) is collapsed when fed; the screen must not change
    // because of it: one NUL still ends an escape or an unfinished UTF-8 sequence.
    TerminalScreen single({20, 5});
    const auto feedBoth = [&](const std::string& runs, const std::string& one) {
      text(runs);
      single.feed(Record{0, 0, Direction::to_client, RecordKind::terminal_output, bytesOf(one)});
    };
    single = screen;
    const std::string zeros(100000, '\0');
    feedBoth("\x1b" + zeros + "[31mA", std::string("\x1b\0[31mA", 8));
    feedBoth("\xc3" + zeros + "\xa4" + zeros, std::string("\xc3\0\xa4\0", 4));
    feedBoth(zeros + "B" + zeros + "\x1b[" + zeros + "1;1HC", std::string("\0B\0\x1b[\0"
                                                                          "1;1HC",
                                                                          11));
    CHECK(screen.row(0) == "Clc:~$ ls");
    CHECK(screen.row(2) ==
          "plc:~$ [31mA\xef\xbf\xbd\xef\xbf\xbd"
          "B");
    CHECK(screen.serialize() == single.serialize());
  }
  SECTION("redraw clears, draws each row and puts the cursor back") {
    CHECK(screen.redraw() ==
          "\x1b[0m\x1b[H\x1b[2J\x1b[1;1Hplc:~$ ls\x1b[2;1Hfile1  file2\x1b[3;1Hplc:~$\x1b[3;8H");
  }
}

TEST_CASE("a cast from a time starts at 0 on the right screen and continues like the whole one") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "s.crec";
  writeTerminalSession(file, vault, *broker.signer, 60);

  RecordingReader fullReader(file, keyList(vault));
  const auto full = castLines(exportCast(fullReader));
  RecordingReader indexReader(file, keyList(vault));
  const auto index = indexRecording(indexReader);
  REQUIRE(index.source.verdict == Verdict::intact);
  REQUIRE(index.keyframes.size() >= 10);

  const std::uint64_t from = GENERATE(12'345'678ull, 30'000'000ull, 45'000'000ull, 59'500'000ull);
  AsciicastOptions options;
  options.fromUs = from;
  // Without the index: read from the start, the screen built on the way.
  RecordingReader slowReader(file, keyList(vault));
  const auto slow = exportCast(slowReader, options);
  // With it: jump to the last keyframe before `from` and start from its screen.
  const Keyframe* k = &index.keyframes.front();
  for (const auto& f : index.keyframes) {
    if (f.point.atUs < from) k = &f;
  }
  CHECK(k->point.atUs + 6'000'000 > from);
  auto screen = TerminalScreen::parse(k->screen);
  RecordingReader fastReader(file, keyList(vault));
  REQUIRE(fastReader.seek(k->point));
  options.startScreen = screen ? &*screen : nullptr;
  const auto fast = exportCast(fastReader, options);
  CHECK(fast == slow);

  const auto lines = castLines(fast);
  REQUIRE(lines.size() >= 3);
  CHECK(lines[0].find(from > 40'100'000 ? "\"width\": 120, \"height\": 40"
                                        : "\"width\": 100, \"height\": 30") != std::string::npos);
  // The first event is at 0: clear the player and draw the screen at `from`.
  CHECK(lines[1].rfind("[0.000000, \"o\", \"\\u001b[0m\\u001b[H\\u001b[2J", 0) == 0);
  CHECK(lines[1].find("$ echo step-") != std::string::npos);
  // Then exactly the whole cast's events from `from` on, timed from `from`.
  std::vector<std::string> tail;
  for (std::size_t i = 1; i < full.size(); ++i) {
    const auto t = eventUs(full[i]);
    if (t >= from) tail.push_back(eventAt(t - from, full[i]));
  }
  REQUIRE_FALSE(tail.empty());
  CHECK(std::vector<std::string>(lines.begin() + 2, lines.end()) == tail);
}

TEST_CASE("the screen at a time is the screen the whole cast shows then") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "s.crec";
  const auto records = writeTerminalSession(file, vault, *broker.signer, 30);
  RecordingReader reader(file, keyList(vault));
  const auto index = indexRecording(reader);
  for (const auto& k : index.keyframes) {
    TerminalScreen expected;
    for (const auto& r : records) {
      if (r.timeUs >= k.point.atUs) break;
      expected.feed(r);
    }
    CHECK(k.screen ==
          (expected.blank() && k.point.messageIndex == 0 ? std::string() : expected.serialize()));
  }
}
