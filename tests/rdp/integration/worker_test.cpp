// conduit-rdp-worker against real RDP servers (freerdp-shadow-cli on Xvfb, and xrdp in front of
// TigerVNC): certificate learning and pinning, credentials, frames and tiles, keyboard input, bad
// broker frames, a server that dies mid-session, clipboard text, the session's drive and sound.

#include <fcntl.h>
#include <png.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "conduit/rdp/drive_folder.hpp"
#include "conduit/rdp/worker_protocol.hpp"
#include "rdp/integration/rdp_target.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace conduit::rdp;
using conduit::test::PrintTarget;
using conduit::test::Process;
using conduit::test::RdpTarget;
using conduit::test::XrdpTarget;
using Clock = std::chrono::steady_clock;

/// The worker process with the broker's end of its socketpair.
class Worker {
 public:
  Worker() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    fd_ = fds[0];
    const int childEnd = ::fcntl(fds[1], F_DUPFD, 3);  // without O_CLOEXEC: the worker's end
    process_ = std::make_unique<Process>(
        std::vector<std::string>{CONDUIT_RDP_WORKER, "--fd", std::to_string(childEnd)});
    ::close(childEnd);
    ::close(fds[1]);
  }
  ~Worker() { ::close(fd_); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void send(const Bytes& frame) {
    REQUIRE(::send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(frame.size()));
  }

  /// The next frame from the worker, nullopt on timeout or EOF.
  std::optional<Frame> next(std::chrono::milliseconds timeout) {
    const auto end = Clock::now() + timeout;
    while (pending_.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      if (left.count() <= 0 || eof_) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      std::uint8_t buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        eof_ = true;
        continue;
      }
      auto frames = reader_.feed(std::span(buf, static_cast<std::size_t>(n)));
      REQUIRE(frames.ok());
      for (auto& f : *frames) pending_.push_back(std::move(f));
    }
    Frame f = std::move(pending_.front());
    pending_.erase(pending_.begin());
    return f;
  }

  Process& process() { return *process_; }

 private:
  int fd_ = -1;
  std::unique_ptr<Process> process_;
  FrameReader reader_;
  std::vector<Frame> pending_;
  bool eof_ = false;
};

ConnectRequest requestFor(const RdpTarget& target) {
  ConnectRequest r;
  r.host = "127.0.0.1";
  r.port = target.port();
  r.username = target.user();
  r.security = Security::nla;
  r.connectTimeoutMs = 5000;
  return r;
}

Bytes connectFrame(const ConnectRequest& r, const std::string& password) {
  return encodeConnect(
      r, std::span(reinterpret_cast<const std::uint8_t*>(password.data()), password.size()));
}

// One server for the cases that do not kill it: Xvfb + shadow server take seconds to start.
RdpTarget& sharedTarget() {
  static RdpTarget target;
  return target;
}

std::string learnFingerprint(RdpTarget& target) {
  static std::string learnt;
  if (!learnt.empty()) return learnt;
  Worker worker;
  auto r = requestFor(target);
  r.learnCertificate = true;
  worker.send(connectFrame(r, target.password()));
  auto frame = worker.next(std::chrono::seconds(15));
  REQUIRE(frame);
  INFO(worker.process().errors());
  REQUIRE(frame->type == MessageType::connected);
  auto connected = decodeConnected(frame->body);
  REQUIRE(connected.ok());
  learnt = connected->certificateSha256;
  CHECK(worker.process().wait(std::chrono::seconds(10)) == 0);
  return learnt;
}

struct Decoded {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;
};

Decoded decodePng(const Bytes& image) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_memory(&png, image.data(), image.size()) != 0);
  png.format = PNG_FORMAT_RGB;
  Decoded out{static_cast<int>(png.width), static_cast<int>(png.height), {}};
  out.rgb.resize(PNG_IMAGE_SIZE(png));
  REQUIRE(png_image_finish_read(&png, nullptr, out.rgb.data(), 0, nullptr) != 0);
  return out;
}

bool nonUniform(const Decoded& d) {
  for (std::size_t i = 3; i + 2 < d.rgb.size(); i += 3)
    if (d.rgb[i] != d.rgb[0] || d.rgb[i + 1] != d.rgb[1] || d.rgb[i + 2] != d.rgb[2]) return true;
  return false;
}

// Reads frames until a frame_end, acking it; returns the tiles and the frame end.
struct WholeFrame {
  std::vector<Tile> tiles;
  FrameEnd end;
};
std::optional<WholeFrame> readFrame(Worker& worker, int width, int height,
                                    std::chrono::milliseconds timeout) {
  WholeFrame out;
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto f =
        worker.next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    if (!f) return std::nullopt;
    if (f->type == MessageType::tile) {
      auto tile = decodeTile(f->body, width, height);
      REQUIRE(tile.ok());
      out.tiles.push_back(std::move(*tile));
    } else if (f->type == MessageType::frame_end) {
      auto end = decodeFrameEnd(f->body);
      REQUIRE(end.ok());
      out.end = *end;
      worker.send(encodeAck(end->sequence));
      return out;
    } else {
      (void)worker.process().wait(std::chrono::seconds(5));
      FAIL("unexpected frame type " << static_cast<int>(f->type) << ": "
                                    << std::string(f->body.begin(), f->body.end())
                                    << "; the worker said: " << worker.process().errors());
    }
  }
  return std::nullopt;
}

Connected expectConnected(Worker& worker) {
  auto frame = worker.next(std::chrono::seconds(15));
  INFO(worker.process().errors());
  REQUIRE(frame);
  if (frame->type == MessageType::failed) FAIL(std::string(frame->body.begin(), frame->body.end()));
  REQUIRE(frame->type == MessageType::connected);
  auto connected = decodeConnected(frame->body);
  REQUIRE(connected.ok());
  return *connected;
}

Failure expectFailure(Worker& worker) {
  auto frame = worker.next(std::chrono::seconds(20));
  INFO(worker.process().errors());
  REQUIRE(frame);
  REQUIRE(frame->type == MessageType::failed);
  auto failure = decodeFailure(frame->body);
  REQUIRE(failure.ok());
  return *failure;
}

void typeKey(Worker& worker, std::uint16_t scancode) {
  worker.send(encodeKey(KeyEvent{true, scancode}));
  worker.send(encodeKey(KeyEvent{false, scancode}));
}

/// Points at the xterm (which fills the screen), types "hello" Enter, waits (acknowledging
/// frames) until `file` holds it, then closes the session and checks the worker exits 0.
void typeHelloThenClose(Worker& worker, const std::filesystem::path& file, int w, int h) {
  worker.send(encodePointer(PointerEvent{kPtrMove, 200, 200}));
  for (const int sc : {0x23, 0x12, 0x26, 0x26, 0x18, 0x1C})
    typeKey(worker, static_cast<std::uint16_t>(sc));
  const auto deadline = Clock::now() + std::chrono::seconds(8);
  std::string typed;
  while (Clock::now() < deadline) {
    (void)readFrame(worker, w, h, std::chrono::milliseconds(200));
    typed = conduit::test::readText(file);
    if (typed.find("hello") != std::string::npos) break;
  }
  CHECK(typed.find("hello") != std::string::npos);
  worker.send(encodeFrame(MessageType::close, {}));
  // Drain until EOF, then the exit code.
  while (worker.next(std::chrono::seconds(5))) {
  }
  CHECK(worker.process().wait(std::chrono::seconds(10)) == 0);
}

}  // namespace

TEST_CASE("rdp worker learns the server certificate and sends no frames", "[rdp][worker]") {
  auto& target = sharedTarget();
  Worker worker;
  auto r = requestFor(target);
  r.learnCertificate = true;
  worker.send(connectFrame(r, target.password()));
  const auto connected = expectConnected(worker);
  CHECK(connected.certificateSha256.size() == 64);
  CHECK(connected.certificateSha256.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(connected.width == 1024);
  CHECK(connected.height == 768);
  CHECK_FALSE(worker.next(std::chrono::seconds(5)));  // closed, no tiles
  REQUIRE(worker.process().wait(std::chrono::seconds(5)) == 0);
  CHECK(worker.process().errors().find(target.password()) == std::string::npos);
}

TEST_CASE("rdp worker streams the desktop and types into it", "[rdp][worker]") {
  auto& target = sharedTarget();
  const auto fingerprint = learnFingerprint(target);
  Worker worker;
  auto r = requestFor(target);
  r.certificateSha256 = fingerprint;
  const auto started = Clock::now();
  worker.send(connectFrame(r, target.password()));
  const auto connected = expectConnected(worker);
  CHECK(connected.certificateSha256 == fingerprint);
  const int w = connected.width, h = connected.height;

  auto first = readFrame(worker, w, h, std::chrono::seconds(3));
  INFO(worker.process().errors());
  REQUIRE(first);
  std::cerr << "INFO: connect to first frame: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
            << " ms (" << first->tiles.size() << " tiles)\n";
  CHECK(first->end.keyframe);
  long long area = 0;
  bool sawDetail = false;
  for (const auto& tile : first->tiles) {
    CHECK(tile.width <= 256);
    CHECK(tile.height <= 256);
    area += static_cast<long long>(tile.width) * tile.height;
    if (tile.format == TileFormat::png) {
      const auto d = decodePng(tile.image);
      CHECK(d.width == tile.width);
      CHECK(d.height == tile.height);
      sawDetail = sawDetail || nonUniform(d);
    }
  }
  CHECK(area == static_cast<long long>(w) * h);
  CHECK(sawDetail);

  typeHelloThenClose(worker, target.file(), w, h);
  CHECK(worker.process().errors().find(target.password()) == std::string::npos);
  // The worker's own timing lines ("connected in", "first frame ... after connect").
  const auto& log = worker.process().errors();
  for (const char* needle : {"connected in", "first frame"}) {
    const auto at = log.find(needle);
    if (at != std::string::npos)
      std::cerr << "INFO: worker: " << log.substr(at, log.find('\n', at) - at) << "\n";
  }
}

TEST_CASE("rdp worker reports a wrong password as credentials", "[rdp][worker]") {
  auto& target = sharedTarget();
  const auto fingerprint = learnFingerprint(target);
  Worker worker;
  auto r = requestFor(target);
  r.certificateSha256 = fingerprint;
  worker.send(connectFrame(r, "not-the-password"));
  const auto failure = expectFailure(worker);
  CHECK(failure.code == "credentials");
  const auto code = worker.process().wait(std::chrono::seconds(10));
  REQUIRE(code);
  CHECK(*code != 0);
}

TEST_CASE("rdp worker refuses a certificate that is not the pinned one", "[rdp][worker]") {
  auto& target = sharedTarget();
  const auto fingerprint = learnFingerprint(target);
  const std::string wrong(64, 'a');
  Worker worker;
  auto r = requestFor(target);
  r.certificateSha256 = wrong;
  worker.send(connectFrame(r, target.password()));
  const auto failure = expectFailure(worker);
  CHECK(failure.code == "certificate");
  CHECK(failure.message.find(wrong) != std::string::npos);
  CHECK(failure.message.find(fingerprint) != std::string::npos);
  const auto code = worker.process().wait(std::chrono::seconds(10));
  REQUIRE(code);
  CHECK(*code != 0);
}

TEST_CASE("rdp worker exits on a garbage frame from the broker", "[rdp][worker]") {
  auto& target = sharedTarget();
  const auto fingerprint = learnFingerprint(target);
  Worker worker;
  auto r = requestFor(target);
  r.certificateSha256 = fingerprint;
  worker.send(connectFrame(r, target.password()));
  (void)expectConnected(worker);
  worker.send(Bytes{1, 0, 0, 0, 0x7F});  // length 1, unknown type
  const auto code = worker.process().wait(std::chrono::seconds(10));
  INFO(worker.process().errors());
  REQUIRE(code);
  CHECK(*code != 0);
}

TEST_CASE("rdp worker ends when the server dies mid-session", "[rdp][worker]") {
  RdpTarget target;
  Worker learner;
  auto r = requestFor(target);
  r.learnCertificate = true;
  learner.send(connectFrame(r, target.password()));
  const auto fingerprint = expectConnected(learner).certificateSha256;
  CHECK(learner.process().wait(std::chrono::seconds(10)) == 0);

  Worker worker;
  r.learnCertificate = false;
  r.certificateSha256 = fingerprint;
  worker.send(connectFrame(r, target.password()));
  const auto connected = expectConnected(worker);
  REQUIRE(readFrame(worker, connected.width, connected.height, std::chrono::seconds(3)));
  target.stopServer();
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  std::optional<MessageType> last;
  while (Clock::now() < deadline) {
    auto f = worker.next(std::chrono::seconds(1));
    if (!f) {
      if (worker.process().wait(std::chrono::milliseconds(10))) break;
      continue;
    }
    if (f->type == MessageType::frame_end) {
      auto end = decodeFrameEnd(f->body);
      REQUIRE(end.ok());
      worker.send(encodeAck(end->sequence));
    }
    if (f->type == MessageType::closed || f->type == MessageType::failed) last = f->type;
  }
  INFO(worker.process().errors());
  CHECK(last.has_value());
  CHECK(worker.process().wait(std::chrono::seconds(5)).has_value());
}

namespace {

/// A request to a TLS target on 127.0.0.1 (xrdp and the printing server have no NLA).
ConnectRequest tlsRequest(std::uint16_t port) {
  ConnectRequest r;
  r.host = "127.0.0.1";
  r.port = port;
  r.username = "vendor";
  r.security = Security::tls;
  r.connectTimeoutMs = 5000;
  return r;
}

/// A tile or frame end (acknowledged, as the browser would): true; any other frame: false.
bool desktopFrame(Worker& worker, const Frame& f) {
  if (f.type == MessageType::frame_end) {
    auto end = decodeFrameEnd(f.body);
    REQUIRE(end.ok());
    worker.send(encodeAck(end->sequence));
    return true;
  }
  return f.type == MessageType::tile;
}

/// A session to a fresh xrdp target (TLS: xrdp has no NLA) with the clipboard as given: the
/// certificate learnt by a first worker, then pinned; the first frame read and acknowledged.
struct XrdpSession {
  XrdpTarget target;
  Worker worker;
  std::string fingerprint;
  int learnerExit = -1;
  int width = 0;
  int height = 0;
  WholeFrame first;

  explicit XrdpSession(bool clipboard, const std::string& drivePath = {},
                       XrdpTarget::Options options = {}, bool audio = false)
      : target(options) {
    ConnectRequest r = tlsRequest(target.port());
    r.clipboard = clipboard;
    r.drive = !drivePath.empty();
    r.drivePath = drivePath;
    r.audio = audio;
    {
      Worker learner;
      auto learn = r;
      learn.drive = false;
      learn.drivePath.clear();
      learn.audio = false;
      learn.learnCertificate = true;
      learner.send(connectFrame(learn, "any-password"));
      fingerprint = expectConnected(learner).certificateSha256;
      learnerExit = learner.process().wait(std::chrono::seconds(10)).value_or(-1);
    }
    r.certificateSha256 = fingerprint;
    worker.send(connectFrame(r, "any-password"));
    const auto connected = expectConnected(worker);
    width = connected.width;
    height = connected.height;
    INFO(worker.process().errors());
    auto frame = readFrame(worker, width, height, std::chrono::seconds(10));
    REQUIRE(frame);
    first = std::move(*frame);
  }

  std::vector<AudioChunk> sound;  // audio frames read so far

  /// Reads (and acknowledges) frames for up to `timeout`, keeping audio in `sound`; the first
  /// clipboard text the worker sends, or nullopt.
  std::optional<std::string> targetClipboard(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto f = worker.next(std::chrono::milliseconds(200));
      if (!f || desktopFrame(worker, *f)) continue;
      if (f->type == MessageType::audio) {
        auto chunk = decodeAudio(f->body);
        REQUIRE(chunk.ok());
        sound.push_back(std::move(*chunk));
      } else if (f->type == MessageType::target_clipboard) {
        auto text = decodeClipboard(f->body);
        REQUIRE(text.ok());
        return *text;
      } else {
        FAIL("unexpected frame type " << static_cast<int>(f->type));
      }
    }
    return std::nullopt;
  }
};

}  // namespace

TEST_CASE("rdp worker streams an xrdp desktop over TLS, pinned, and types into it",
          "[rdp][worker]") {
  // A second RDP server implementation (xrdp, TLS security: it has no NLA), so that the worker
  // is not only ever tried against FreeRDP's own server.
  XrdpSession s(false);
  CHECK(s.fingerprint.size() == 64);
  CHECK(s.learnerExit == 0);
  CHECK(s.width == 1024);
  CHECK(s.height == 768);
  INFO(s.worker.process().errors());
  CHECK(s.first.end.keyframe);
  long long area = 0;
  for (const auto& tile : s.first.tiles) area += static_cast<long long>(tile.width) * tile.height;
  CHECK(area == static_cast<long long>(s.width) * s.height);

  typeHelloThenClose(s.worker, s.target.file(), s.width, s.height);
}

TEST_CASE("rdp worker carries clipboard text both ways where the request allows it",
          "[rdp][worker][clipboard]") {
  // xrdp passes its clipboard channel on to the VNC display as cut text (ISO-8859-1 only), which
  // TigerVNC's Xvnc turns into the X CLIPBOARD selection: xclip on the display sets and reads it.
  XrdpSession s(true);
  INFO(s.worker.process().errors());

  // Vendor -> target: the text becomes the target's clipboard.
  const std::string pasted =
      "setpoint 42.5 \xc2\xb0"
      "C (Kessel 3, \xc3\xbc"
      "berpr\xc3\xbc"
      "ft)";
  s.worker.send(encodeClipboard(MessageType::clipboard, pasted));
  std::optional<std::string> onTarget;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    (void)s.targetClipboard(std::chrono::milliseconds(200));
    onTarget = s.target.clipboard();
    if (onTarget == pasted) break;
  }
  CHECK(onTarget == pasted);

  // Target -> vendor: copying on the target sends the text to the broker.
  const std::string copied = "alarm log line 17: pump P-101 tripped";
  s.target.setClipboard(copied);
  std::optional<std::string> got;
  for (int i = 0; i < 5 && got != copied; ++i) got = s.targetClipboard(std::chrono::seconds(2));
  CHECK(got == copied);

  // Bad clipboard text from the broker is a broken broker: the worker exits.
  const Bytes bad = {0xff, 0xfe};
  s.worker.send(encodeFrame(MessageType::clipboard, bad));
  while (s.worker.next(std::chrono::seconds(5))) {
  }
  CHECK(s.worker.process().wait(std::chrono::seconds(10)) == 1);
}

TEST_CASE("rdp worker opens no clipboard channel where the request does not allow it",
          "[rdp][worker][clipboard]") {
  XrdpSession s(false);
  INFO(s.worker.process().errors());
  s.target.setClipboard("secret recipe: do not copy");
  CHECK_FALSE(s.targetClipboard(std::chrono::seconds(3)).has_value());
  // And text from the broker is refused as a protocol breach.
  s.worker.send(encodeClipboard(MessageType::clipboard, "paste me"));
  while (s.worker.next(std::chrono::seconds(5))) {
  }
  CHECK(s.worker.process().wait(std::chrono::seconds(10)) == 1);
  CHECK_FALSE(s.target.clipboard() == std::optional<std::string>("paste me"));
}

namespace {

std::string readWhole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::span<const std::uint8_t> bytesOf(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

TEST_CASE("rdp worker offers the session's drive to an xrdp target both ways",
          "[rdp][worker][drive]") {
  // xrdp's channel server mounts the drive the worker offers with FUSE: what the target's user
  // sees under thinclient_drives/Conduit is the broker's directory, read and written through
  // the worker (FreeRDP's drive device, in the sandbox, as nobody).
  INFO("xrdp-chansrv's FUSE mount and socket directory need root (as ./scripts/test.sh runs)");
  REQUIRE(::geteuid() == 0);
  auto folder = DriveFolder::create(DriveFolder::workerOwner());
  REQUIRE(folder.ok());
  std::string firmware(300 * 1024, '\0');
  for (std::size_t i = 0; i < firmware.size(); ++i) firmware[i] = static_cast<char>(i * 131 % 251);
  REQUIRE((*folder)
              ->put("fw-v2.bin", bytesOf(firmware),
                    [](const std::string&) { return conduit::core::Status(conduit::core::Done{}); })
              .ok());

  XrdpSession s(false, (*folder)->path(), {.drives = true});
  INFO(s.worker.process().errors());
  const auto drive = s.target.drives() / std::string(kDriveName);

  // Vendor -> target: the file is there with the same bytes.
  std::string seen;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline && seen != firmware) {
    (void)s.targetClipboard(std::chrono::milliseconds(300));  // reads and acknowledges frames
    std::error_code ec;
    if (std::filesystem::exists(drive / "fw-v2.bin", ec)) seen = readWhole(drive / "fw-v2.bin");
  }
  REQUIRE(seen.size() == firmware.size());
  CHECK(seen == firmware);

  // Target -> vendor: a file the target writes on the drive lands in the broker's directory.
  const std::string report = "trend export 2026-11-27\npump P-101: 17 trips\n";
  {
    std::ofstream out(drive / "report.csv", std::ios::binary);
    out << report;
  }
  std::optional<DriveContent> got;
  const auto deadline2 = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline2) {
    auto files = (*folder)->list();
    REQUIRE(files.ok());
    if (files->size() == 2) {
      auto content = (*folder)->get("report.csv");
      if (content.ok() && content->bytes.size() == report.size()) {
        got = std::move(*content);
        break;
      }
    }
    (void)s.targetClipboard(std::chrono::milliseconds(200));
  }
  REQUIRE(got);
  CHECK(std::string(got->bytes.begin(), got->bytes.end()) == report);
  CHECK(got->sha256.size() == 64);
}

TEST_CASE("rdp worker offers no drive where the request does not allow one",
          "[rdp][worker][drive]") {
  INFO("xrdp-chansrv's FUSE mount and socket directory need root (as ./scripts/test.sh runs)");
  REQUIRE(::geteuid() == 0);
  XrdpSession s(false, {}, {.drives = true});
  INFO(s.worker.process().errors());
  // Time for a drive to appear had one been offered (it takes well under a second above).
  (void)s.targetClipboard(std::chrono::seconds(4));
  // The same target shows the drive within a second when it is offered (the case above);
  // without it the worker opens no rdpdr channel, so chansrv mounts nothing at all.
  std::error_code ec;
  CHECK_FALSE(std::filesystem::exists(s.target.drives() / std::string(kDriveName), ec));
}

namespace {

/// A connection to xrdp-chansrv's sound socket, as pulseaudio's xrdp sink module makes one.
class SoundSource {
 public:
  explicit SoundSource(const std::filesystem::path& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    REQUIRE(path.string().size() < sizeof a.sun_path);
    std::memcpy(a.sun_path, path.c_str(), path.string().size());
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~SoundSource() { ::close(fd_); }
  SoundSource(const SoundSource&) = delete;
  SoundSource& operator=(const SoundSource&) = delete;

  /// One message of PCM (id 0).
  void play(const std::string& pcm) {
    std::string m(8, '\0');
    const auto size = static_cast<std::uint32_t>(8 + pcm.size());
    for (int i = 0; i < 4; ++i)
      m[static_cast<std::size_t>(4 + i)] = static_cast<char>((size >> (8 * i)) & 0xff);
    m += pcm;
    REQUIRE(::send(fd_, m.data(), m.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(m.size()));
  }

 private:
  int fd_ = -1;
};

}  // namespace

TEST_CASE("rdp worker plays an xrdp target's sound where the request allows audio",
          "[rdp][worker][audio]") {
  // xrdp's channel server sends what its sound socket gets to the client over rdpsnd (static
  // channel, MS-RDPEA): formats, training, then wave PDUs; FreeRDP's rdpsnd client negotiates
  // PCM and hands the samples to the worker's playback device, which sends them to the broker.
  INFO("xrdp-chansrv's socket directory needs root (as ./scripts/test.sh runs)");
  REQUIRE(::geteuid() == 0);
  // The target's rdpdr too: the worker opens it, empty, with sound (as Windows wants).
  XrdpSession s(false, {}, {.drives = true, .audio = true}, true);
  INFO(s.worker.process().errors());
  // chansrv opens its sound socket once the client has opened the rdpsnd channel.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  std::error_code ec;
  while (Clock::now() < deadline && !std::filesystem::exists(s.target.audioSocket(), ec)) {
    (void)s.targetClipboard(std::chrono::milliseconds(100));
  }
  REQUIRE(std::filesystem::exists(s.target.audioSocket(), ec));
  SoundSource source(s.target.audioSocket());
  // One second of a known pattern in chansrv's 8 KiB blocks, at about real time (a block is
  // 46 ms of 44.1 kHz stereo; FreeRDP drops sound that arrives far ahead of its playback).
  std::string sent;
  for (int block = 0; block < 20; ++block) {
    std::string pcm(8192, '\0');
    for (std::size_t i = 0; i < pcm.size(); ++i) {
      pcm[i] = static_cast<char>((i * 7 + static_cast<std::size_t>(block) * 13) % 251);
    }
    source.play(pcm);
    sent += pcm;
    (void)s.targetClipboard(std::chrono::milliseconds(50));
  }
  std::string got;
  const auto deadline2 = Clock::now() + std::chrono::seconds(5);
  auto received = [&] {
    std::size_t n = 0;
    for (const auto& c : s.sound) n += c.pcm.size();
    return n;
  };
  while (Clock::now() < deadline2 && received() < sent.size()) {
    (void)s.targetClipboard(std::chrono::milliseconds(100));
  }
  REQUIRE_FALSE(s.sound.empty());
  for (const auto& c : s.sound) {
    CHECK(c.rate == 44100);
    CHECK(c.channels == 2);
    got.append(c.pcm.begin(), c.pcm.end());
  }
  // Every sample, in order, byte for byte (PCM end to end: no codec in between).
  CHECK(got.size() == sent.size());
  CHECK(got == sent);
  // rdpdr carried no drive: chansrv mounted none.
  std::error_code ec2;
  CHECK_FALSE(std::filesystem::exists(s.target.drives() / std::string(kDriveName), ec2));
}

TEST_CASE("rdp worker opens no sound channel where the request does not allow audio",
          "[rdp][worker][audio]") {
  INFO("xrdp-chansrv's socket directory needs root (as ./scripts/test.sh runs)");
  REQUIRE(::geteuid() == 0);
  XrdpSession s(false, {}, {.audio = true}, false);
  INFO(s.worker.process().errors());
  // The same target opens its sound socket within a second when the worker opens rdpsnd (the
  // case above); without audio in the request the worker never asks for the channel.
  (void)s.targetClipboard(std::chrono::seconds(4));
  std::error_code ec;
  CHECK_FALSE(std::filesystem::exists(s.target.audioSocket(), ec));
  CHECK(s.sound.empty());
}

namespace {

/// A worker connected to a PrintTarget (TLS, its certificate pinned) with the printer as given.
struct PrintSession {
  PrintTarget target;
  Worker worker;

  PrintSession(const std::string& document, bool printer, int copies = 1)
      : target({CONDUIT_TEST_RDP_PRINTER, document, copies}) {
    ConnectRequest r = tlsRequest(target.port());
    r.certificateSha256 = target.fingerprint();
    r.printer = printer;
    worker.send(connectFrame(r, "any-password"));
    expectConnected(worker);
  }

  /// Reads the worker's frames for up to `timeout` (acknowledging frames): the documents it
  /// passed on, each with whether print_end said it was cut, until `count` are complete.
  std::vector<std::pair<std::string, bool>> documents(std::size_t count,
                                                      std::chrono::milliseconds timeout) {
    std::map<std::uint32_t, std::string> open;
    std::vector<std::pair<std::string, bool>> done;
    const auto deadline = Clock::now() + timeout;
    while (done.size() < count && Clock::now() < deadline) {
      auto f = worker.next(std::chrono::milliseconds(200));
      if (!f || desktopFrame(worker, *f)) continue;
      if (f->type == MessageType::print_data) {
        auto d = decodePrintData(f->body);
        REQUIRE(d.ok());
        open[d->job].append(d->bytes.begin(), d->bytes.end());
      } else if (f->type == MessageType::print_end) {
        auto e = decodePrintEnd(f->body);
        REQUIRE(e.ok());
        done.emplace_back(std::move(open[e->job]), e->truncated);
        open.erase(e->job);
      } else {
        FAIL("unexpected frame type " << static_cast<int>(f->type));
      }
    }
    return done;
  }
};

}  // namespace

TEST_CASE("rdp worker passes on what the target prints where the request allows the printer",
          "[rdp][worker][printer]") {
  // 100 KiB: seven of the server's 16 KiB writes; two copies, two documents.
  const std::string doc = conduit::test::postScriptDocument("CONDUIT PRINT TEST 4711", 100000);
  PrintSession s(doc, true, 2);
  auto printer = s.target.process().waitForLine("announced", std::chrono::seconds(10));
  INFO(s.worker.process().errors());
  INFO(s.target.process().errors());
  REQUIRE(printer);
  // The target sees the printer by its name, as its default, with the PostScript driver.
  CHECK(printer->find("printer Conduit PDF announced (driver MS Publisher Imagesetter)") !=
        std::string::npos);
  const auto docs = s.documents(2, std::chrono::seconds(20));
  REQUIRE(docs.size() == 2);
  for (const auto& [bytes, truncated] : docs) {
    CHECK(bytes.size() == doc.size());
    CHECK(bytes == doc);  // byte for byte, in order
    CHECK_FALSE(truncated);
  }
  CHECK(s.target.process().waitForLine("printed " + std::to_string(doc.size()) + " bytes",
                                       std::chrono::seconds(5)));
  s.worker.send(encodeFrame(MessageType::close, {}));
  CHECK(s.worker.process().wait(std::chrono::seconds(10)) == 0);
}

TEST_CASE("rdp worker offers no printer where the request does not allow it",
          "[rdp][worker][printer]") {
  const std::string doc = conduit::test::postScriptDocument("NOT PRINTED", 1000);
  PrintSession s(doc, false);
  // The device channel is not even opened: the server's rdpdr never hears from the client.
  // (With the printer allowed, the announcement comes within a second, the case above.)
  CHECK_FALSE(s.target.process().waitForLine("announced", std::chrono::seconds(4)));
  CHECK(s.documents(1, std::chrono::seconds(1)).empty());
  s.worker.send(encodeFrame(MessageType::close, {}));
  CHECK(s.worker.process().wait(std::chrono::seconds(10)) == 0);
}
