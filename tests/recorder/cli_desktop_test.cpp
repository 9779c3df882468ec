// `conduit recording export ID --format desktop|mp4` through the real binary, over a data
// directory from `conduit init`: an RDP recording exports (audited), a terminal recording is
// refused without an audit event or an output file. The video export's frames are checked in
// process (YUV4MPEG2) and in the MP4 by the real ffprobe and ffmpeg.
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "conduit/access/recording_keys.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/recorder/export.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/database.hpp"
#include "recorder/cli_keys.hpp"
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

std::size_t exportEvents(store::Database& db, const std::string& target,
                         const std::string& format = "desktop") {
  auto events = store::AuditLog(db).list();
  REQUIRE(events.ok());
  std::size_t n = 0;
  for (const auto& e : *events) {
    if (e.draft.type == "recording.exported" && e.draft.target == target) {
      CHECK(e.draft.details == R"({"format":")" + format + R"("})");
      ++n;
    }
  }
  return n;
}

const std::string rdpId = "rdp-1-1";
const std::string sshId = "ssh-term-1";

/// `conduit init` in DIR/data with an RDP recording (rdpSessionRecords) and a terminal one.
struct DataWithRecordings {
  test::TempDir dir;
  std::filesystem::path data = dir / "data";

  DataWithRecordings() {
    auto [rc, out] = cli({"init", "--data-dir", data.string()});
    INFO(out);
    REQUIRE(rc == 0);
    auto k = keys();
    std::filesystem::create_directories(data / "recordings");
    auto write = [&](const std::string& id, const std::vector<Record>& records) {
      auto w = RecordingWriter::create({.file = file(id), .sessionId = id}, *k.wrapper);
      REQUIRE(w.ok());
      for (const auto& r : records) REQUIRE((*w)->append(r).ok());
      REQUIRE((*w)->close(*k.signer).ok());
    };
    write(rdpId, rdpSessionRecords());
    write(sshId, terminalSessionRecords(3));
  }

  std::filesystem::path file(const std::string& id) const {
    return data / "recordings" / (id + ".crec");
  }

  access::RecordingKeys keys() const { return recordingKeysOf(data); }

  /// `exporter(reader, out)` over recording `id` in this process: its summary and output.
  template <class Exporter>
  std::pair<ExportSummary, std::string> exportHere(const std::string& id, Exporter exporter) const {
    auto k = keys();
    const StreamKeyWrapper* wrappers[] = {k.wrapper.get()};
    RecordingReader reader(file(id), wrappers);
    std::ostringstream out;
    auto summary = exporter(reader, out);
    REQUIRE(summary.ok());
    return {*summary, out.str()};
  }

  static std::pair<int, std::string> cli(std::vector<std::string> args) {
    args.insert(args.begin(), CONDUIT_BINARY);
    return test::runCommand(args);
  }

  std::pair<int, std::string> exportAs(const std::string& id, const std::string& format,
                                       const std::filesystem::path& output) const {
    return cli({"recording", "--data-dir", data.string(), "export", id, "--format", format,
                "--output", output.string()});
  }
};

}  // namespace

TEST_CASE("recording export --format desktop exports RDP sessions only, audited") {
  DataWithRecordings d;
  const auto [summary, expected] =
      d.exportHere(rdpId, [](RecordingReader& r, std::ostream& o) { return exportDesktop(r, o); });
  CHECK(summary.recordsWritten == 12);
  CHECK(summary.recordsSkipped == 1);
  const auto& dir = d.dir;
  const auto& data = d.data;
  auto conduitCli = DataWithRecordings::cli;

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

namespace {

/// A YUV4MPEG2 stream's frames (4:4:4: the Y, Cb and Cr planes of width x height each).
struct Y4m {
  std::string header;
  int width = 0;
  int height = 0;
  std::vector<std::string> frames;

  explicit Y4m(const std::string& s) {
    const auto nl = s.find('\n');
    REQUIRE(nl != std::string::npos);
    header = s.substr(0, nl);
    REQUIRE(std::sscanf(header.c_str(), "YUV4MPEG2 W%d H%d", &width, &height) == 2);
    const auto bytes = static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3;
    for (std::size_t at = nl + 1; at < s.size(); at += bytes) {
      REQUIRE(s.compare(at, 6, "FRAME\n") == 0);
      at += 6;
      REQUIRE(at + bytes <= s.size());
      frames.push_back(s.substr(at, bytes));
    }
  }
  /// Y, Cb, Cr at (x, y) of frame n.
  std::array<int, 3> at(std::size_t n, int x, int y) const {
    const auto plane = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
    const auto i =
        static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x);
    const auto& f = frames.at(n);
    return {static_cast<unsigned char>(f[i]), static_cast<unsigned char>(f[plane + i]),
            static_cast<unsigned char>(f[2 * plane + i])};
  }
};

// BT.601 studio range: red and blue as every YUV table gives them.
constexpr std::array<int, 3> kRedYuv = {82, 90, 240};
constexpr std::array<int, 3> kBlueYuv = {41, 240, 110};

}  // namespace

TEST_CASE("the video export shows each moment's desktop at ten frames a second") {
  DataWithRecordings d;
  const auto [summary, y4m] =
      d.exportHere(rdpId, [](RecordingReader& r, std::ostream& o) { return exportVideo(r, o); });
  const Y4m video(y4m);
  CHECK(video.header == "YUV4MPEG2 W64 H32 F10:1 Ip A1:1 C444");
  // From the first frame end (0.100002 s) to the last record (4 s), one frame every 0.1 s.
  REQUIRE(video.frames.size() == 39);
  CHECK(summary.recordsWritten == 39);
  // Frames 0-8 (up to 0.9 s): the first keyframe, red | blue.
  for (std::size_t n : {0u, 8u}) {
    INFO("frame " << n);
    CHECK(video.at(n, 16, 16) == kRedYuv);
    CHECK(video.at(n, 48, 16) == kBlueYuv);
  }
  // Frames 9-28 (1.0-2.9 s): blue drawn on the left at 1.0 s.
  for (std::size_t n : {9u, 28u}) {
    INFO("frame " << n);
    CHECK(video.at(n, 16, 16) == kBlueYuv);
    CHECK(video.at(n, 48, 16) == kBlueYuv);
  }
  // Frames 29-38 (3.0 s on): the second keyframe, red | red.
  for (std::size_t n : {29u, 38u}) {
    INFO("frame " << n);
    CHECK(video.at(n, 0, 0) == kRedYuv);
    CHECK(video.at(n, 63, 31) == kRedYuv);
  }

  // A terminal recording has no desktop: refused, nothing written.
  auto k = d.keys();
  const StreamKeyWrapper* wrappers[] = {k.wrapper.get()};
  RecordingReader terminal(d.file(sshId), wrappers);
  std::ostringstream none;
  auto refused = exportVideo(terminal, none);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message == "not an RDP recording");
  CHECK(none.str().empty());
}

TEST_CASE("recording export --format mp4 writes an H.264 video that ffmpeg plays, audited") {
  DataWithRecordings d;
  const auto mp4 = d.dir / "rdp.mp4";
  {
    auto [rc, out] = d.exportAs(rdpId, "mp4", mp4);
    INFO(out);
    REQUIRE(rc == 0);
    CHECK(out.find("reader: intact") != std::string::npos);
  }
  {
    auto [rc, out] = test::runCommand(
        {"ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
         "stream=codec_name,width,height,color_range,color_space,nb_read_frames", "-of", "csv=p=0",
         mp4.string()});
    INFO(out);
    REQUIRE(rc == 0);
    // H.264 tagged with the BT.601 studio range the frames were made in; 39 frames.
    CHECK(out == "h264,64,32,tv,smpte170m,39\n");
  }
  // Frame 5 (0.5 s): red | blue; frame 20 (2.1 s): blue | blue; frame 35: red | red. Decoded
  // to RGB by ffmpeg itself; H.264 is lossy, so within a margin.
  auto pixel = [&](int frame, int x, int y) {
    auto [rc, out] = test::runCommand({"ffmpeg", "-v", "error", "-i", mp4.string(), "-vf",
                                       "select=eq(n\\," + std::to_string(frame) + ")", "-frames:v",
                                       "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"});
    REQUIRE(rc == 0);
    REQUIRE(out.size() == 64u * 32u * 3u);
    const auto i = static_cast<std::size_t>(y * 64 + x) * 3;
    return std::array<int, 3>{static_cast<unsigned char>(out[i]),
                              static_cast<unsigned char>(out[i + 1]),
                              static_cast<unsigned char>(out[i + 2])};
  };
  auto near = [](std::array<int, 3> got, std::array<int, 3> want) {
    for (std::size_t c = 0; c < 3; ++c) {
      if (std::abs(got[c] - want[c]) > 24) return false;
    }
    return true;
  };
  const std::array<int, 3> red = {255, 0, 0}, blue = {0, 0, 255};
  CHECK(near(pixel(5, 16, 16), red));
  CHECK(near(pixel(5, 48, 16), blue));
  CHECK(near(pixel(20, 16, 16), blue));
  CHECK(near(pixel(35, 16, 16), red));
  CHECK(near(pixel(35, 48, 16), red));

  // A terminal session: refused before ffmpeg writes anything that stays.
  const auto refused = d.dir / "ssh.mp4";
  {
    auto [rc, out] = d.exportAs(sshId, "mp4", refused);
    INFO(out);
    CHECK(rc != 0);
    CHECK(out.find("not an RDP recording") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(refused));

  // ffmpeg cannot write where it is told: its reason, and no file.
  const auto nowhere = d.dir / "missing" / "rdp.mp4";
  {
    auto [rc, out] = d.exportAs(rdpId, "mp4", nowhere);
    INFO(out);
    CHECK(rc != 0);
    CHECK(out.find("ffmpeg could not encode the video") != std::string::npos);
    CHECK(out.find("No such file or directory") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(nowhere.parent_path()));

  // No ffmpeg at all: said before anything is exported (no audit event).
  {
    auto [rc, out] =
        test::runCommand({"env", "PATH=" + (d.dir / "empty").string(), CONDUIT_BINARY, "recording",
                          "--data-dir", d.data.string(), "export", rdpId, "--format", "mp4",
                          "--output", (d.dir / "no-ffmpeg.mp4").string()});
    INFO(out);
    CHECK(rc != 0);
    CHECK(out.find("cannot run ffmpeg") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(d.dir / "no-ffmpeg.mp4"));

  // Only finished videos are in the directory: no partial file stays behind.
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(d.dir.path())) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"data", "rdp.mp4"});

  auto db = store::Database::open(d.data / "conduit.db");
  REQUIRE(db.ok());
  // The export to rdp.mp4 and the one ffmpeg could not write (audited before a frame left).
  CHECK(exportEvents(*db, "session:" + rdpId, "mp4") == 2);
  CHECK(exportEvents(*db, "session:" + sshId, "mp4") == 0);
}
