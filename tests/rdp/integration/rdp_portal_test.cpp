// Browser RDP through `conduit serve` with real peers: FreeRDP's shadow server on Xvfb (NLA
// against a SAM file) showing an xterm that runs `cat > FILE`, the password in the broker's
// vault, the certificate pinned with `conduit admin asset pin-rdp --probe`, and the portal's
// WebSocket (/api/v1/rdp) driven as the browser page drives it: tiles and frame ends in,
// acknowledgements and scancodes out. Chromium drives the same page in tests/e2e.
#include <openssl/evp.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "portal/ws_client.hpp"
#include "rdp/integration/rdp_target.hpp"
#include "ssh/integration/plant.hpp"
#include "ssh/integration/tunnel_support.hpp"
#include "support/process.hpp"

using namespace conduit;
using namespace std::chrono_literals;

using test::auditOnce;
using test::call;
using test::count;
using test::grantProtocols;
using test::Plant;
using test::portalPort;
using test::signIn;

namespace {

constexpr const char* kRdpPolicy = R"(
[[rule]]
id = "vendor-rdp-test"
effect = "allow"
[rule.match]
roles = ["vendor"]
protocols = ["rdp"]
[rule.limits]
max_duration = "4h"
warning_period = "1m"
approvals = 1
recording = "required"
mfa = "required"
)";

std::string rdpConfig() {
  return "[rdp]\nworker = \"" + std::string(CONDUIT_RDP_WORKER) + "\"\n";
}

/// An RDP server (the shadow server, or xrdp) and an asset `desk` for it, its password in the
/// vault, its certificate pinned by probing once, and alice's approved rdp grant.
template <class Target>
struct BasicRdpPlant {
  explicit BasicRdpPlant(const std::string& policy = kRdpPolicy) : p(policy, rdpConfig()) {
    setUp();
  }
  Plant p;
  Target target;
  std::uint16_t portal = portalPort(p);
  std::string fingerprint;

  void setUp() {
    test::writeText(p.dir / "desk.pw", target.password() + "\n");
    p.ok({"vault", "--data-dir", p.data, "put", "desk/rdp", "--value-file",
          (p.dir / "desk.pw").string()});
    p.admin("", {"asset", "add", "desk", "--owner-group", "ops", "--rdp",
                 "127.0.0.1:" + std::to_string(target.port()) + ":" + target.user()});
    p.admin("", {"asset", "set-credential", "desk", "--protocol", "rdp", "--secret", "desk/rdp"});
    const std::string pinned = p.admin("", {"asset", "pin-rdp", "desk", "--probe"});
    const auto at = pinned.find("sha256 ");
    REQUIRE(at != std::string::npos);
    fingerprint = pinned.substr(at + 7, 64);
    grantProtocols(p, "desk", {"rdp"});
  }

  /// Opens /api/v1/rdp as alice; returns the HTTP status of the upgrade. One sign-in serves
  /// every socket: a TOTP code is good once per 30 s step.
  int open(test::WsClient& ws, const std::string& asset = "desk") {
    if (alice.cookie.empty()) alice = signIn(portal, "alice", p.totpSeed);
    return ws.connect(portal, "/api/v1/rdp?asset=" + asset + "&width=1024&height=768",
                      "__Host-conduit-session=" + alice.cookie,
                      "https://127.0.0.1:" + std::to_string(portal));
  }
  test::PortalLogin alice;

  /// Reads what the broker logged so far (its stderr pipe must not fill up).
  void drain() { p.broker->waitForLine("\x01never\x01", 1ms); }
};
using RdpPlant = BasicRdpPlant<test::RdpTarget>;
using XrdpPlant = BasicRdpPlant<test::XrdpTarget>;
/// xrdp with its channel server, which mounts the drives a client offers (needs root).
struct DriveXrdpTarget : test::XrdpTarget {
  DriveXrdpTarget() : XrdpTarget(Options{.drives = true}) {}
};
using XrdpDrivePlant = BasicRdpPlant<DriveXrdpTarget>;

std::uint16_t u16(const std::string& b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) |
                                    (static_cast<unsigned char>(b[at + 1]) << 8));
}
std::uint32_t u32(const std::string& b, std::size_t at) {
  return static_cast<std::uint32_t>(u16(b, at)) |
         (static_cast<std::uint32_t>(u16(b, at + 2)) << 16);
}

/// What the browser saw of one frame.
struct SeenFrame {
  std::uint32_t sequence = 0;
  bool keyframe = false;
  std::uint64_t tilePixels = 0;
  int pngTiles = 0;
  int jpegTiles = 0;
};

/// Reads messages until a frame end; every tile is checked as the page would draw it.
std::optional<SeenFrame> readFrame(test::WsClient& ws, std::chrono::milliseconds timeout = 5s) {
  SeenFrame f;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = ws.read(1s);
    if (!m) return std::nullopt;
    if (!m->binary) continue;  // notices
    REQUIRE(!m->data.empty());
    const auto type = static_cast<unsigned char>(m->data[0]);
    if (type == 0x82) {
      REQUIRE(m->data.size() > 10);
      const std::uint16_t x = u16(m->data, 1), y = u16(m->data, 3);
      const std::uint16_t w = u16(m->data, 5), h = u16(m->data, 7);
      CHECK(x + w <= 1024);
      CHECK(y + h <= 768);
      f.tilePixels += std::uint64_t{w} * h;
      if (m->data[9] == 1) {
        CHECK(m->data.compare(10, 4, "\x89PNG") == 0);
        ++f.pngTiles;
      } else {
        CHECK(m->data[9] == 2);
        ++f.jpegTiles;
      }
    } else {
      REQUIRE(type == 0x83);
      REQUIRE(m->data.size() == 6);
      f.sequence = u32(m->data, 1);
      f.keyframe = m->data[5] == 1;
      return f;
    }
  }
  return std::nullopt;
}

void ack(test::WsClient& ws, std::uint32_t seq) {
  ws.sendText(R"({"type":"ack","seq":)" + std::to_string(seq) + "}");
}

/// Opens a desktop as alice on plant `w`: checks the `started` message and returns it, then
/// reads the first frame (a frame end within 20 s) and acknowledges it.
template <class RdpPlantType>
std::string startDesktop(RdpPlantType& w, test::WsClient& ws) {
  REQUIRE(w.open(ws) == 101);
  auto started = ws.read(20s);
  REQUIRE(started.has_value());
  INFO(started->data);
  REQUIRE(test::jsonString(started->data, "type") == "started");
  // Typed once the desktop shows, as a vendor would: "started" comes before the first frame,
  // and a key sent before the target drew anything was seen lost ("ello").
  std::optional<SeenFrame> first;
  for (int i = 0; i < 20 && !first; ++i) first = readFrame(ws);
  REQUIRE(first.has_value());
  ack(ws, first->sequence);
  return started->data;
}

/// RDP set-1 scancodes of the lowercase letters the test types.
std::uint16_t scancode(char c) {
  switch (c) {
    case 'e':
      return 0x12;
    case 'h':
      return 0x23;
    case 'l':
      return 0x26;
    case 'o':
      return 0x18;
    case '\r':
      return 0x1c;
    default:
      FAIL("no scancode for this test's character");
      return 0;
  }
}

void type(test::WsClient& ws, const std::string& text) {
  for (char c : text) {
    const std::string code = std::to_string(scancode(c));
    ws.sendText(R"({"type":"key","code":)" + code + R"(,"down":true})");
    ws.sendText(R"({"type":"key","code":)" + code + R"(,"down":false})");
  }
}

/// A JSONL export's protocol events, one line each: the direction, a space, the payload
/// (base64 in the export) decoded.
std::string protocolEvents(const std::string& jsonlPath) {
  std::string events;
  std::istringstream lines(test::readText(jsonlPath));
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"kind\":\"protocol_event\"") == std::string::npos) continue;
    const std::string b64 = test::jsonString(line, "payload_b64");
    std::string raw(b64.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()),
                                  static_cast<int>(b64.size()));
    REQUIRE(n >= 0);
    events += test::jsonString(line, "direction") + " " +
              raw.substr(0, static_cast<std::size_t>(n)) + "\n";
  }
  return events;
}

/// The next text message of `type` (tiles and frame ends are acknowledged and skipped), or
/// nullopt after the timeout.
std::optional<std::string> readText(test::WsClient& ws, const std::string& type,
                                    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = ws.read(200ms);
    if (!m) {
      if (ws.closed()) return std::nullopt;
      continue;
    }
    if (m->binary) {
      if (static_cast<unsigned char>(m->data[0]) == 0x83) ack(ws, u32(m->data, 1));
      continue;
    }
    if (test::jsonString(m->data, "type") == type) return m->data;
  }
  return std::nullopt;
}

/// The `closed` message's reason, reading past tiles (or "" if none came in time).
std::string closedReason(test::WsClient& ws, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = ws.read(1s);
    if (!m && ws.closed()) return ws.closeReason();
    if (!m) continue;  // nothing yet: the broker may take a moment to end the session
    if (!m->binary && m->data.find("\"closed\"") != std::string::npos) {
      return test::jsonString(m->data, "reason");
    }
  }
  return "";
}

/// Opens the live view of session `id` as erin, an engineer of the asset's group, and reads its
/// desktop message.
template <class RdpPlantType>
void watchLive(RdpPlantType& w, test::WsClient& watch, const std::string& id) {
  const auto erinLogin = signIn(w.portal, "erin", test::enrolTotp(w.p, "erin"));
  REQUIRE(watch.connect(w.portal, "/api/v1/sessions/" + id + "/live",
                        "__Host-conduit-session=" + erinLogin.cookie,
                        "https://127.0.0.1:" + std::to_string(w.portal)) == 101);
  REQUIRE(readText(watch, "desktop", 5s).has_value());
}

/// Ends alice's session on plant `w` by revoking grant 1 (the socket must close with "access
/// ended"), waits until the recording is sealed and returns its protocol events
/// (protocolEvents of a JSONL export named `name`).
template <class RdpPlantType>
std::string revokeAndExportEvents(RdpPlantType& w, test::WsClient& ws, const std::string& id,
                                  const std::string& name) {
  REQUIRE(w.p.conduit({"admin", "--data-dir", w.p.data, "--as", "erin", "revoke", "1", "--reason",
                       "done"})
              .first == 0);
  CHECK_THAT(closedReason(ws), Catch::Contains("access ended"));
  auditOnce(w.p, "recording.sealed");
  const std::string jsonl = (w.p.dir / (name + ".jsonl")).string();
  auto [rc, out] = w.p.conduit(
      {"recording", "--data-dir", w.p.data, "export", id, "--format", "jsonl", "--output", jsonl});
  INFO(out);
  REQUIRE(rc == 0);
  return protocolEvents(jsonl);
}

}  // namespace

TEST_CASE(
    "browser RDP: the desktop streams, typed keys reach the target, the session is "
    "recorded and verifies, and a kill ends it") {
  RdpPlant w;
  CHECK(w.fingerprint.size() == 64);
  test::WsClient ws;
  const auto connectAt = std::chrono::steady_clock::now();
  REQUIRE(w.open(ws) == 101);
  auto started = ws.read(20s);
  REQUIRE(started.has_value());
  INFO(started->data);
  REQUIRE(test::jsonString(started->data, "type") == "started");
  const std::string id = test::jsonString(started->data, "session_id");
  CHECK(id.rfind("rdp-", 0) == 0);
  CHECK_THAT(started->data, Catch::Contains("\"width\":1024") && Catch::Contains("\"height\":768"));

  // The first frame is a keyframe covering the whole desktop, in PNG tiles.
  auto first = readFrame(ws);
  REQUIRE(first.has_value());
  const auto firstFrameMs = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - connectAt);
  WARN("connect to first frame through the portal: " << firstFrameMs.count() << " ms");
  CHECK(first->keyframe);
  CHECK(first->tilePixels >= 1024u * 768u);
  CHECK(first->pngTiles > 0);
  ack(ws, first->sequence);

  // Typing: the xterm's `cat` writes what arrives to the file on the target.
  type(ws, "hello\r");
  std::string typed;
  for (int i = 0; i < 100 && typed.find("hello") == std::string::npos; ++i) {
    if (auto f = readFrame(ws, 100ms)) ack(ws, f->sequence);
    if (std::filesystem::exists(w.target.file())) typed = test::readText(w.target.file());
  }
  CHECK_THAT(typed, Catch::Contains("hello"));

  // The browser may not acknowledge what was never sent: the session ends.
  // (Checked on a second session below; here the engineer kills this one.)
  const auto erinLogin = signIn(w.portal, "erin", test::enrolTotp(w.p, "erin"));
  const auto erin = erinLogin.headers();

  // The engineer watches the desktop live: its size first, then a keyframe asked for on join.
  test::WsClient watch;
  REQUIRE(watch.connect(w.portal, "/api/v1/sessions/" + id + "/live",
                        "__Host-conduit-session=" + erinLogin.cookie,
                        "https://127.0.0.1:" + std::to_string(w.portal)) == 101);
  auto header = watch.read(5s);
  REQUIRE(header.has_value());
  CHECK(test::jsonString(header->data, "type") == "desktop");
  CHECK_THAT(header->data, Catch::Contains("\"width\":1024"));
  bool watchedKeyframe = false;
  for (int i = 0; i < 20 && !watchedKeyframe; ++i) {
    // The vendor's browser keeps acknowledging, so frames keep flowing.
    if (auto f = readFrame(ws, 200ms)) ack(ws, f->sequence);
    if (auto seen = readFrame(watch, 200ms)) watchedKeyframe = seen->keyframe;
  }
  CHECK(watchedKeyframe);

  const auto live = call(w.portal, "GET", "/api/v1/sessions", erin);
  CHECK_THAT(live.body,
             Catch::Contains("\"id\":\"" + id + "\"") && Catch::Contains("\"protocol\":\"rdp\""));
  const auto killedAt = std::chrono::steady_clock::now();
  const auto kill = call(w.portal, "POST", "/api/v1/sessions/" + id + "/kill", erin,
                         R"({"reason":"stop the HMI session"})");
  INFO(kill.raw);
  CHECK(kill.status == 200);
  const std::string reason = closedReason(ws);
  CHECK_THAT(reason, Catch::Contains("access ended"));
  CHECK(std::chrono::steady_clock::now() - killedAt < 3s);

  // Recorded: sealed, verified against the audit chain, tiles in the export; no password.
  const std::string trail = auditOnce(w.p, "recording.sealed");
  CHECK_THAT(trail, Catch::Contains("\"type\":\"session.started\""));
  CHECK_THAT(trail, Catch::Contains("\"type\":\"asset.certificate_pinned\""));
  CHECK_THAT(trail, Catch::Contains("\"type\":\"credential.checkout\""));
  auto [rcVerify, verify] = w.p.conduit({"recording", "--data-dir", w.p.data, "verify", id});
  INFO(verify);
  CHECK(rcVerify == 0);
  CHECK_THAT(verify, Catch::Contains("matches the audit chain"));
  const std::string jsonl = (w.p.dir / "rdp.jsonl").string();
  auto [rcExport, exported] = w.p.conduit(
      {"recording", "--data-dir", w.p.data, "export", id, "--format", "jsonl", "--output", jsonl});
  INFO(exported);
  REQUIRE(rcExport == 0);
  const std::string records = test::readText(jsonl);
  CHECK(count(records, "rdp_update") >= 1);
  CHECK(records.find("key 0x") == std::string::npos);  // keystrokes only where policy says
  // The auditor's download (what the replay page plays) is the same desktop stream as the
  // command's, sent from the export spooled to disk.
  w.p.admin("", {"user", "add", "ann", "--role", "auditor", "--password-file",
                 (w.p.dir / "pw").string()});
  const auto ann = signIn(w.portal, "ann", test::enrolTotp(w.p, "ann"));
  const auto served =
      call(w.portal, "GET", "/api/v1/recordings/" + id + "/export?format=desktop", ann.headers());
  REQUIRE(served.status == 200);
  CHECK_THAT(served.raw, Catch::Contains("X-Conduit-Verdict: intact"));
  const std::string cdsk = (w.p.dir / "rdp.cdsk").string();
  auto [rcDesktop, desktop] = w.p.conduit(
      {"recording", "--data-dir", w.p.data, "export", id, "--format", "desktop", "--output", cdsk});
  INFO(desktop);
  REQUIRE(rcDesktop == 0);
  CHECK(served.body.size() > 10000);  // the keyframe's tiles at least
  CHECK(served.body == test::readText(cdsk));
  w.drain();
  CHECK(records.find(w.target.password()) == std::string::npos);
  CHECK(trail.find(w.target.password()) == std::string::npos);
  CHECK(w.p.broker->errors().find(w.target.password()) == std::string::npos);

  // A browser acknowledging a frame never sent ends its session.
  test::WsClient liar;
  grantProtocols(w.p, "desk", {"rdp"});  // the kill suspended the first grant
  REQUIRE(w.open(liar) == 101);
  auto again = liar.read(20s);
  REQUIRE(again.has_value());
  REQUIRE(test::jsonString(again->data, "type") == "started");
  // After a frame arrived (far ahead of it, not a wrapped-around old one).
  std::optional<SeenFrame> seen;
  for (int i = 0; i < 20 && !seen; ++i) seen = readFrame(liar);
  REQUIRE(seen.has_value());
  ack(liar, 4000000000u);
  CHECK_THAT(closedReason(liar), Catch::Contains("never sent"));
}

TEST_CASE(
    "browser RDP refuses a wrong pin, a wrong password, an unpinned endpoint and a vendor "
    "without a grant, each with its reason") {
  RdpPlant w;
  auto refusal = [&](const std::string& asset = "desk") {
    test::WsClient ws;
    REQUIRE(w.open(ws, asset) == 101);
    auto m = ws.read(30s);
    REQUIRE(m.has_value());
    INFO(m->data);
    CHECK(test::jsonString(m->data, "type") == "closed");
    return test::jsonString(m->data, "reason");
  };
  // Another certificate pinned: the target's is refused, naming both.
  const std::string other(64, 'a');
  w.p.admin("", {"asset", "pin-rdp", "desk", "--fingerprint", other});
  std::string why = refusal();
  CHECK_THAT(why, Catch::Contains(other) && Catch::Contains(w.fingerprint));
  // The right pin, the wrong password in the vault.
  w.p.admin("", {"asset", "pin-rdp", "desk", "--fingerprint", w.fingerprint});
  test::writeText(w.p.dir / "wrong.pw", "not-the-password\n");
  w.p.ok({"vault", "--data-dir", w.p.data, "put", "desk/rdp", "--value-file",
          (w.p.dir / "wrong.pw").string()});
  why = refusal();
  CHECK_THAT(why, Catch::Contains("account or password"));
  // A pin cannot be set to something that is not a SHA-256.
  auto [rcBad, bad] = w.p.conduit(
      {"admin", "--data-dir", w.p.data, "asset", "pin-rdp", "desk", "--fingerprint", "abc"});
  CHECK(rcBad != 0);
  CHECK_THAT(bad, Catch::Contains("64 hex digits"));
  // An rdp endpoint without a pin is never connected to.
  w.p.admin("", {"asset", "add", "bare", "--owner-group", "ops", "--rdp",
                 "127.0.0.1:" + std::to_string(w.target.port()) + ":" + w.target.user()});
  w.p.admin("", {"asset", "set-credential", "bare", "--protocol", "rdp", "--secret", "desk/rdp"});
  grantProtocols(w.p, "bare", {"rdp"});
  CHECK_THAT(refusal("bare"), Catch::Contains("no pinned certificate"));
  // No grant for the asset at all.
  w.p.admin("", {"asset", "add", "nogrant", "--owner-group", "ops", "--rdp",
                 "127.0.0.1:" + std::to_string(w.target.port()) + ":" + w.target.user(),
                 "--rdp-fingerprint", w.fingerprint});
  CHECK_FALSE(refusal("nogrant").empty());
  const std::string trail = auditOnce(w.p, "target.connect_failed");
  CHECK(count(trail, "\"type\":\"target.connect_failed\"") >= 3);
  w.drain();
}

TEST_CASE(
    "browser RDP faults end only their own session: a crashed worker, a target that goes "
    "away, garbage and an input flood from the browser") {
  RdpPlant w;
  auto startSession = [&](test::WsClient& ws) { (void)startDesktop(w, ws); };
  // The policy allows one session per user at a time: each case waits for the previous end.
  auto awaitEnded = [&](std::size_t n) {
    for (int i = 0; i < 50; ++i) {
      if (count(test::auditOnce(w.p, "session.ended"), "\"type\":\"session.ended\"") >= n) return;
      std::this_thread::sleep_for(200ms);
    }
  };

  // A worker killed (as a hostile server's exploit might crash it): that session ends with the
  // reason, the broker goes on.
  {
    test::WsClient ws;
    startSession(ws);
    const auto [rc, pids] = test::runCommand(
        {"pgrep", "-P", std::to_string(w.p.broker->pid()), "-f", "conduit-rdp-worker"});
    INFO(pids);
    REQUIRE(rc == 0);
    REQUIRE(test::runCommand({"kill", "-9", pids.substr(0, pids.find('\n'))}).first == 0);
    CHECK_THAT(closedReason(ws), Catch::Contains("stopped unexpectedly"));
  }
  awaitEnded(1);
  // Garbage from the browser closes that socket with the reason; the session ends with it.
  {
    test::WsClient ws;
    startSession(ws);
    ws.sendText("{\"type\":\"key\",\"code\":99999,\"down\":true}");
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (!ws.closed() && std::chrono::steady_clock::now() < until) ws.read(1s);
    CHECK_THAT(ws.closeReason(), Catch::Contains("key needs code"));
  }
  awaitEnded(2);
  // An input flood ends the session.
  {
    test::WsClient ws;
    startSession(ws);
    for (int i = 0; i < 1200; ++i) {
      ws.sendText(R"({"type":"pointer","x":10,"y":10,"flags":2048})");
    }
    CHECK_THAT(closedReason(ws), Catch::Contains("input events in a second"));
  }
  awaitEnded(3);
  // The target goes away mid-session: the vendor is told, the broker still serves.
  {
    test::WsClient ws;
    startSession(ws);
    w.target.stopServer();
    CHECK_THAT(closedReason(ws, 15s), Catch::Contains("RDP"));
  }
  w.drain();
  const auto [rcAlive, health] = test::runCommand(
      {"curl", "-sk", "https://127.0.0.1:" + std::to_string(w.portal) + "/healthz"});
  CHECK(rcAlive == 0);
  CHECK_THAT(health, Catch::Contains("ok"));
}

TEST_CASE("browser RDP records keystrokes only where policy says record_keystrokes") {
  std::string policy = kRdpPolicy;
  policy += "record_keystrokes = true\n";
  RdpPlant w(policy);
  test::WsClient ws;
  const std::string id = test::jsonString(startDesktop(w, ws), "session_id");
  type(ws, "hello\r");
  std::string typed;
  for (int i = 0; i < 100 && typed.find("hello") == std::string::npos; ++i) {
    if (auto f = readFrame(ws, 100ms)) ack(ws, f->sequence);
    if (std::filesystem::exists(w.target.file())) typed = test::readText(w.target.file());
  }
  CHECK_THAT(typed, Catch::Contains("hello"));
  ws.sendText(R"({"type":"refresh"})");
  const std::string events = revokeAndExportEvents(w, ws, id, "keys");
  CHECK_THAT(events, Catch::Contains("key 0x023 down") && Catch::Contains("key 0x023 up") &&
                         Catch::Contains("key 0x01c down"));
  w.drain();
}

namespace {
std::string clipboardMessage(const std::string& text) {
  return boost::json::serialize(boost::json::object{{"type", "clipboard"}, {"text", text}});
}
}  // namespace

TEST_CASE(
    "browser RDP clipboard: text both ways where the policy allows it, recorded and "
    "searchable") {
  // xrdp (its clipboard channel goes on to the VNC display's X selection, read and set with
  // xclip): the shadow server has no clipboard channel.
  std::string policy = kRdpPolicy;
  policy += "[rule.rdp]\nclipboard = true\n";
  XrdpPlant w(policy);
  test::WsClient ws;
  const std::string started = startDesktop(w, ws);
  CHECK_THAT(started, Catch::Contains("\"clipboard\":true"));
  const std::string id = test::jsonString(started, "session_id");

  // An engineer watches live: clipboard text shows there as it passes.
  test::WsClient watch;
  watchLive(w, watch, id);

  // Vendor -> target: quotes, backslashes and a tab survive JSON and the RDP channel.
  const std::string pasted = "copy \"C:\\Program Files\\Vendor\" to PLC-7\tdone";
  ws.sendText(clipboardMessage(pasted));
  std::optional<std::string> onTarget;
  for (int i = 0; i < 50 && onTarget != pasted; ++i) {
    (void)readText(ws, "-", 200ms);  // acknowledges frames meanwhile
    onTarget = w.target.clipboard();
  }
  CHECK(onTarget == pasted);

  // Target -> vendor: copying on the target shows in the page.
  const std::string copied = "trend export TIC-101 73.4 degC";
  w.target.setClipboard(copied);
  std::string got;
  for (int i = 0; i < 5 && got != copied; ++i) {
    if (auto m = readText(ws, "clipboard", 4s)) got = test::jsonString(*m, "text");
  }
  CHECK(got == copied);
  std::vector<std::string> watched;
  for (int i = 0; i < 20 && watched.size() < 2; ++i) {
    if (auto m = readText(watch, "clipboard", 500ms)) {
      watched.push_back(test::jsonString(*m, "direction") + " " + test::jsonString(*m, "text"));
    }
  }
  INFO("the engineer saw: " << watched.size());
  CHECK(std::find(watched.begin(), watched.end(), "to_target " + pasted) != watched.end());
  CHECK(std::find(watched.begin(), watched.end(), "to_client " + copied) != watched.end());

  // Text over the limit is refused with a message; the desktop goes on.
  ws.sendText(clipboardMessage(std::string(70000, 'x')));
  auto refused = readText(ws, "clipboard_refused", 5s);
  REQUIRE(refused.has_value());
  CHECK_THAT(test::jsonString(*refused, "message"), Catch::Contains("65535 bytes"));
  CHECK_FALSE(ws.closed());

  const std::string events = revokeAndExportEvents(w, ws, id, "clipboard");
  INFO(events);
  CHECK_THAT(events, Catch::Contains("to_target ") && Catch::Contains(pasted));
  CHECK_THAT(events, Catch::Contains("to_client ") && Catch::Contains(copied));
  // The auditor finds the session by what was copied.
  auto [rcSearch, found] = w.p.conduit({"recording", "--data-dir", w.p.data, "search", "TIC-101"});
  INFO(found);
  CHECK(rcSearch == 0);
  CHECK_THAT(found, Catch::Contains(id));
  w.drain();
}

TEST_CASE("browser RDP clipboard: refused where the policy does not allow it") {
  XrdpPlant w;  // kRdpPolicy: no [rule.rdp], the clipboard is off
  test::WsClient ws;
  const std::string started = startDesktop(w, ws);
  CHECK_THAT(started, Catch::Contains("\"clipboard\":false"));
  const std::string id = test::jsonString(started, "session_id");

  ws.sendText(clipboardMessage("do not paste this"));
  auto refused = readText(ws, "clipboard_refused", 5s);
  REQUIRE(refused.has_value());
  CHECK_THAT(test::jsonString(*refused, "message"),
             Catch::Contains("does not allow the clipboard on desk"));
  w.target.setClipboard("plant secret, do not copy");
  CHECK_FALSE(readText(ws, "clipboard", 3s).has_value());
  w.drain();
  INFO(w.p.broker->errors());
  CHECK_FALSE(ws.closed());
  CHECK_FALSE(w.target.clipboard() == std::optional<std::string>("do not paste this"));
  // No drive either: files are refused with the reason, and the desktop goes on.
  CHECK_THAT(started, Catch::Contains("\"drive\":false"));
  ws.sendText(R"({"type":"drive_put","name":"fw.bin","size":2})");
  auto noDrive = readText(ws, "drive_refused", 5s);
  REQUIRE(noDrive.has_value());
  CHECK_THAT(test::jsonString(*noDrive, "message"),
             Catch::Contains("does not allow a drive on desk"));
  ws.sendText(R"({"type":"drive_list"})");
  CHECK(readText(ws, "drive_refused", 5s).has_value());
  CHECK_FALSE(ws.closed());
  const auto live = call(w.portal, "GET", "/api/v1/sessions",
                         signIn(w.portal, "erin", test::enrolTotp(w.p, "erin")).headers());
  CHECK_THAT(live.body, Catch::Contains("\"id\":\"" + id + "\""));
  w.drain();
}

TEST_CASE("browser RDP clipboard: one way only where the policy says \"to-target\"") {
  std::string policy = kRdpPolicy;
  policy += "[rule.rdp]\nclipboard = \"to-target\"\n";
  XrdpPlant w(policy);
  test::WsClient ws;
  const std::string started = startDesktop(w, ws);
  CHECK_THAT(started, Catch::Contains("\"clipboard_to_target\":true") &&
                          Catch::Contains("\"clipboard_from_target\":false"));
  const std::string id = test::jsonString(started, "session_id");

  // Pasting into the target passes.
  const std::string pasted = "load recipe 12";
  ws.sendText(clipboardMessage(pasted));
  std::optional<std::string> onTarget;
  for (int i = 0; i < 50 && onTarget != pasted; ++i) {
    (void)readText(ws, "-", 200ms);
    onTarget = w.target.clipboard();
  }
  CHECK(onTarget == pasted);
  // Copying from it does not: nothing reaches the browser, the recording says so (size only).
  const std::string copied = "recipe database dump 0xCAFE";
  w.target.setClipboard(copied);
  CHECK_FALSE(readText(ws, "clipboard", 4s).has_value());
  CHECK_FALSE(ws.closed());

  const std::string events = revokeAndExportEvents(w, ws, id, "oneway");
  INFO(events);
  CHECK_THAT(events, Catch::Contains(pasted));
  CHECK_THAT(events, Catch::Contains(std::to_string(copied.size()) +
                                     " bytes copied on the target, not passed on"));
  CHECK(events.find(copied) == std::string::npos);
  w.drain();
}

namespace {

std::string sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  REQUIRE(EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr) == 1);
  std::string hex;
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < n; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xF]);
  }
  return hex;
}

std::string readWhole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// The binary message after a drive_file header: the file's bytes after the type byte 0x90
/// (frames meanwhile are acknowledged and skipped).
std::optional<std::string> readDriveData(test::WsClient& ws, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = ws.read(200ms);
    if (!m || !m->binary || m->data.empty()) continue;
    const auto type = static_cast<unsigned char>(m->data[0]);
    if (type == 0x83) ack(ws, u32(m->data, 1));
    if (type == 0x90) return m->data.substr(1);
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("browser RDP drive: a desktop closed while its file is put ends cleanly") {
  // The put's work runs on a thread of its own, which the socket waits for as it goes: the
  // session ends and its recording is sealed where the socket ends (ASan would see the session
  // used after it was freed), and the vendor's next desktop opens.
  INFO("xrdp-chansrv's FUSE mount and socket directory need root (as ./scripts/test.sh runs)");
  REQUIRE(::geteuid() == 0);
  XrdpDrivePlant w(std::string(kRdpPolicy) + "[rule.rdp]\ndrive = true\n");
  {
    test::WsClient ws;
    CHECK_THAT(startDesktop(w, ws), Catch::Contains("\"drive\":true"));
    const std::string big(20u << 20, 'x');
    ws.sendText(R"({"type":"drive_put","name":"left.bin","size":)" + std::to_string(big.size()) +
                "}");
    for (std::size_t at = 0; at < big.size(); at += 256 * 1024) {
      ws.sendBinary(big.substr(at, 256 * 1024));
    }
  }  // closed right after the last piece, while the file is being put
  auditOnce(w.p, "recording.sealed");
  test::WsClient again;
  CHECK_THAT(startDesktop(w, again), Catch::Contains("\"drive\":true"));
  CHECK_FALSE(w.p.broker->wait(0ms).has_value());  // the broker runs on
  w.drain();
}

TEST_CASE(
    "browser RDP drive: files both ways where the policy allows it, recorded with their "
    "SHA-256 and searchable") {
  // xrdp's channel server mounts the session's drive with FUSE: the test reads and writes the
  // target's side of it as the target's user would (thinclient_drives/Conduit).
  INFO("xrdp-chansrv's FUSE mount and socket directory need root (as ./scripts/test.sh runs)");
  REQUIRE(::geteuid() == 0);
  std::string policy = kRdpPolicy;
  policy += "[rule.rdp]\ndrive = true\n";
  XrdpDrivePlant w(policy);
  test::WsClient ws;
  const std::string started = startDesktop(w, ws);
  CHECK_THAT(started, Catch::Contains("\"drive\":true"));
  const std::string id = test::jsonString(started, "session_id");
  const auto drive = w.target.drives() / "Conduit";

  // An engineer watches live: each file shows as it crosses.
  test::WsClient watch;
  watchLive(w, watch, id);

  ws.sendText(R"({"type":"drive_list"})");
  auto listing = readText(ws, "drive", 5s);
  REQUIRE(listing.has_value());
  CHECK_THAT(*listing, Catch::Contains("\"files\":[]"));

  // Vendor -> target: 600 KiB in three binary messages (the page sends 256 KiB pieces).
  std::string firmware(600 * 1024, '\0');
  for (std::size_t i = 0; i < firmware.size(); ++i) firmware[i] = static_cast<char>(i * 7 % 253);
  const std::string firmwareSha = sha256Hex(firmware);
  ws.sendText(R"({"type":"drive_put","name":"fw-v2.bin","size":)" +
              std::to_string(firmware.size()) + "}");
  for (std::size_t at = 0; at < firmware.size(); at += 256 * 1024) {
    ws.sendBinary(firmware.substr(at, 256 * 1024));
  }
  auto done = readText(ws, "drive_put_done", 10s);
  REQUIRE(done.has_value());
  CHECK(test::jsonString(*done, "sha256") == firmwareSha);
  std::string onTarget;
  for (int i = 0; i < 60 && onTarget != firmware; ++i) {
    (void)readText(ws, "-", 250ms);
    std::error_code ec;
    if (std::filesystem::exists(drive / "fw-v2.bin", ec)) onTarget = readWhole(drive / "fw-v2.bin");
  }
  CHECK(onTarget.size() == firmware.size());
  CHECK(onTarget == firmware);

  // Bad names are refused with the reason; the desktop goes on.
  ws.sendText(R"({"type":"drive_put","name":"..\\boot.ini","size":1})");
  auto refused = readText(ws, "drive_refused", 5s);
  REQUIRE(refused.has_value());
  CHECK_THAT(test::jsonString(*refused, "message"), Catch::Contains("file name"));
  ws.sendBinary("x");  // the page sends the announced bytes anyway: they are dropped
  // So is a second file of a name already there, before its bytes arrive.
  ws.sendText(R"({"type":"drive_put","name":"fw-v2.bin","size":3})");
  auto again = readText(ws, "drive_refused", 5s);
  REQUIRE(again.has_value());
  CHECK_THAT(test::jsonString(*again, "message"), Catch::Contains("already on the drive"));
  ws.sendBinary("abc");
  CHECK_FALSE(readText(ws, "drive_put_done", 1s).has_value());
  CHECK_FALSE(ws.closed());

  // Target -> vendor: a file written on the target's side of the drive.
  const std::string report = "tag;value\nTIC-101;73.4\nPIC-7;2.1\n";
  {
    std::ofstream out(drive / "trend.csv", std::ios::binary);
    out << report;
  }
  std::optional<std::string> header;
  for (int i = 0; i < 20 && !header; ++i) {
    ws.sendText(R"({"type":"drive_get","name":"trend.csv"})");
    auto m = readText(ws, "drive_file", 2s);
    if (m && test::jsonString(*m, "sha256") == sha256Hex(report)) header = m;
  }
  REQUIRE(header.has_value());
  const auto data = readDriveData(ws, 5s);
  REQUIRE(data.has_value());
  CHECK(*data == report);

  // A large file both ways: 20 MiB put, then saved back in 1 MiB pieces, each asked for
  // (drive_more), so the socket's send queue never holds much of it.
  std::string big(20u << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>((i * 31 + i / 4096) % 256);
  const std::string bigSha = sha256Hex(big);
  ws.sendText(R"({"type":"drive_put","name":"image.bin","size":)" + std::to_string(big.size()) +
              "}");
  for (std::size_t at = 0; at < big.size(); at += 256 * 1024) {
    ws.sendBinary(big.substr(at, 256 * 1024));
  }
  // The file is hashed, recorded and placed by a job of its own, not on the portal's thread:
  // the socket goes on at once, and a drive request sent meanwhile is refused as busy (on the
  // portal's thread it would have waited and been answered after the put).
  ws.sendText(R"({"type":"drive_list"})");
  const auto busyBefore = [&](const std::string& until) {
    bool busy = false;
    std::optional<std::string> answer;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!answer && std::chrono::steady_clock::now() < deadline) {
      auto m = ws.read(200ms);
      if (!m || m->binary) {
        if (m && static_cast<unsigned char>(m->data[0]) == 0x83) ack(ws, u32(m->data, 1));
        continue;
      }
      const std::string type = test::jsonString(m->data, "type");
      if (type == until) answer = m->data;
      if (type == "drive_refused" &&
          test::jsonString(m->data, "message").find("still being handled") != std::string::npos) {
        busy = true;
      }
    }
    return std::make_pair(busy, answer);
  };
  auto [putBusy, bigDone] = busyBefore("drive_put_done");
  CHECK(putBusy);
  REQUIRE(bigDone.has_value());
  CHECK(test::jsonString(*bigDone, "sha256") == bigSha);
  ws.sendText(R"({"type":"drive_get","name":"image.bin"})");
  ws.sendText(R"({"type":"drive_list"})");
  auto [getBusy, bigHeader] = busyBefore("drive_file");
  CHECK(getBusy);
  REQUIRE(bigHeader.has_value());
  CHECK(test::jsonString(*bigHeader, "sha256") == bigSha);
  std::string back;
  int pieces = 0;
  while (back.size() < big.size()) {
    auto piece = readDriveData(ws, 10s);
    REQUIRE(piece.has_value());
    CHECK(piece->size() <= (1u << 20));
    back += *piece;
    ++pieces;
    if (back.size() < big.size()) ws.sendText(R"({"type":"drive_more"})");
  }
  CHECK(pieces == 20);
  CHECK(back == big);
  // A save left unfinished is dropped by the next put (one file per socket); a drive_more
  // after that is refused, and the desktop goes on.
  ws.sendText(R"({"type":"drive_get","name":"image.bin"})");
  REQUIRE(readText(ws, "drive_file", 10s).has_value());
  REQUIRE(readDriveData(ws, 10s).has_value());
  ws.sendText(R"({"type":"drive_put","name":"late.txt","size":3})");
  ws.sendBinary("abc");
  auto late = readText(ws, "drive_put_done", 10s);
  REQUIRE(late.has_value());
  CHECK(test::jsonString(*late, "sha256") == sha256Hex("abc"));
  ws.sendText(R"({"type":"drive_more"})");
  auto stale = readText(ws, "drive_refused", 5s);
  REQUIRE(stale.has_value());
  CHECK_THAT(test::jsonString(*stale, "message"), Catch::Contains("no file is being saved"));
  CHECK_FALSE(ws.closed());

  std::vector<std::string> watched;
  for (int i = 0; i < 20 && watched.size() < 4; ++i) {
    if (auto m = readText(watch, "file", 500ms)) {
      watched.push_back(test::jsonString(*m, "operation") + " " + test::jsonString(*m, "sha256"));
    }
  }
  CHECK(std::find(watched.begin(), watched.end(), "upload " + firmwareSha) != watched.end());
  CHECK(std::find(watched.begin(), watched.end(), "download " + sha256Hex(report)) !=
        watched.end());

  // The recording names both files with their SHA-256; the auditor finds the session by hash.
  REQUIRE(w.p.conduit({"admin", "--data-dir", w.p.data, "--as", "erin", "revoke", "1", "--reason",
                       "done"})
              .first == 0);
  CHECK_THAT(closedReason(ws), Catch::Contains("access ended"));
  auditOnce(w.p, "recording.sealed");
  std::vector<std::string> files;
  for (const auto& f : test::recordedFiles(w.p, id, "drive.jsonl")) {
    files.push_back(f.direction + " " + f.operation + " " + f.path + " " + std::to_string(f.size) +
                    " " + f.sha256);
  }
  INFO(files.size());
  CHECK(std::find(files.begin(), files.end(),
                  "to_target upload \\\\tsclient\\Conduit\\fw-v2.bin " +
                      std::to_string(firmware.size()) + " " + firmwareSha) != files.end());
  CHECK(std::find(files.begin(), files.end(),
                  "to_client download \\\\tsclient\\Conduit\\trend.csv " +
                      std::to_string(report.size()) + " " + sha256Hex(report)) != files.end());
  auto [rcSearch, found] =
      w.p.conduit({"recording", "--data-dir", w.p.data, "search", firmwareSha});
  INFO(found);
  CHECK(rcSearch == 0);
  CHECK_THAT(found, Catch::Contains(id));
  w.drain();
}

namespace {

const std::string& printedDocument() {
  static const std::string doc = test::postScriptDocument("CONDUIT PRINT TEST 4711", 100000);
  return doc;
}

/// The RDP server that prints printedDocument() once to each client's printer.
struct PortalPrintTarget : test::PrintTarget {
  PortalPrintTarget() : PrintTarget({CONDUIT_TEST_RDP_PRINTER, printedDocument(), 1}) {}
};
using PrintPlant = BasicRdpPlant<PortalPrintTarget>;

}  // namespace

TEST_CASE(
    "browser RDP printer: what the target prints comes to the vendor as PDF, recorded with its "
    "SHA-256") {
  PrintPlant w(std::string(kRdpPolicy) + "[rule.rdp]\nprinter = true\n");
  test::WsClient ws;
  const std::string started = startDesktop(w, ws);
  CHECK_THAT(started, Catch::Contains("\"printer\":true"));
  const std::string id = test::jsonString(started, "session_id");
  // The target printed to "Conduit PDF" (PostScript); the vendor is told a PDF is ready.
  auto printed = readText(ws, "printed", 30s);
  INFO(w.target.process().errors());
  REQUIRE(printed.has_value());
  INFO(*printed);
  CHECK(test::jsonString(*printed, "name") == "print-1.pdf");
  CHECK(test::jsonString(*printed, "note").empty());
  const auto size =
      static_cast<std::size_t>(boost::json::parse(*printed).as_object().at("size").as_int64());
  const std::string sha = test::jsonString(*printed, "sha256");

  // Saved as the page saves it: a header, then pieces of at most 1 MiB on request.
  ws.sendText(R"({"type":"print_get","name":"print-1.pdf"})");
  auto header = readText(ws, "print_file", 10s);
  REQUIRE(header.has_value());
  CHECK(test::jsonString(*header, "sha256") == sha);
  std::string pdf;
  while (pdf.size() < size) {
    auto piece = readDriveData(ws, 10s);
    REQUIRE(piece.has_value());
    pdf += *piece;
    if (pdf.size() < size) ws.sendText(R"({"type":"drive_more"})");
  }
  REQUIRE(pdf.size() == size);
  CHECK(pdf.rfind("%PDF-", 0) == 0);
  CHECK(sha256Hex(pdf) == sha);
  // The page's text, as Ghostscript reads it back out of the PDF the vendor got.
  const auto pdfPath = w.p.dir / "print-1.pdf";
  test::writeText(pdfPath, pdf);
  const auto [rcText, text] =
      test::runCommand({"gs", "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=txtwrite",
                        "-sOutputFile=-", pdfPath.string()});
  CHECK(rcText == 0);
  CHECK_THAT(text, Catch::Contains("CONDUIT PRINT TEST 4711"));

  // A document never offered is refused; the desktop goes on.
  ws.sendText(R"({"type":"print_get","name":"print-9.pdf"})");
  auto missing = readText(ws, "drive_refused", 5s);
  REQUIRE(missing.has_value());
  CHECK_THAT(test::jsonString(*missing, "message"), Catch::Contains("no printed document"));
  CHECK_FALSE(ws.closed());

  // The recording: what the target printed (its size and SHA-256) and what the vendor got and
  // saved, both with the PDF's SHA-256.
  REQUIRE(w.p.conduit({"admin", "--data-dir", w.p.data, "--as", "erin", "revoke", "1", "--reason",
                       "done"})
              .first == 0);
  CHECK_THAT(closedReason(ws), Catch::Contains("access ended"));
  auditOnce(w.p, "recording.sealed");
  bool printRecorded = false, saveRecorded = false;
  for (const auto& f : test::recordedFiles(w.p, id, "print.jsonl")) {
    const std::string line = f.direction + " " + f.operation + " " + f.path + " " +
                             std::to_string(f.size) + " " + f.sha256;
    const std::string expected = "printer/print-1.pdf " + std::to_string(size) + " " + sha;
    if (line == "to_client print " + expected) {
      printRecorded = true;
      CHECK_THAT(f.detail, Catch::Contains("printed on the target: " +
                                           std::to_string(printedDocument().size()) +
                                           " bytes, sha256 " + sha256Hex(printedDocument())));
    }
    if (line == "to_client download " + expected) saveRecorded = true;
  }
  CHECK(printRecorded);
  CHECK(saveRecorded);
  w.drain();
}

TEST_CASE("browser RDP printer: none where the policy does not allow it") {
  PrintPlant w;
  test::WsClient ws;
  const std::string started = startDesktop(w, ws);
  CHECK_THAT(started, Catch::Contains("\"printer\":false"));
  // The target never sees a printer (with it allowed, it prints within a second or two).
  CHECK_FALSE(w.target.process().waitForLine("announced", 4s).has_value());
  CHECK_FALSE(readText(ws, "printed", 1s).has_value());
  ws.sendText(R"({"type":"print_get","name":"print-1.pdf"})");
  auto refused = readText(ws, "drive_refused", 5s);
  REQUIRE(refused.has_value());
  CHECK_THAT(test::jsonString(*refused, "message"), Catch::Contains("does not allow printing"));
  w.drain();
}
