// Browser RDP end to end in real Chromium: FreeRDP's shadow server on Xvfb showing an xterm that
// runs `cat > FILE` (NLA, the password in the broker's vault, the certificate pinned by probing),
// a real `conduit serve` with its RDP worker, and tests/e2e/rdp_story.mjs (playwright-core driving
// Debian's /usr/bin/chromium) as the vendor: sign in, open the desktop from her grant, look at the
// pixels, type into the xterm, Ctrl+Alt+Del, disconnect; then a second desktop (xrdp in front of
// TigerVNC, whose clipboard channel reaches the X selection) where the policy allows the
// clipboard: text sent from the page's Clipboard panel becomes the target's clipboard and text
// copied there shows in the panel; then a third (xrdp with its channel server) where the policy
// allows a drive: a file chosen in the page reaches the target's side of the drive and a file
// written there is saved from the page; then a fourth (an RDP server that prints) where the policy
// allows the printer: the page offers the printed page as PDF and saves it. This side checks that
// the typed line and the pasted text reached the target, and the audit trail, the sealed recordings
// and the search. Screenshots are kept in <build dir>/e2e-artefacts/rdp.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "rdp/integration/rdp_target.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tls_client.hpp"

using namespace conduit;
using namespace std::chrono_literals;

namespace {

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kAsset = "desk";
constexpr const char* kVendorPassword = "Vendor-Pass-rdp-1";
// Typed by the browser into the xterm's `cat`; '-' checks a key that is not a letter.
constexpr const char* kTyped = "hello-from-chromium";

// Vendors may open RDP after one approval; every session is recorded; the portal's own TOTP
// login is the second factor.
constexpr const char* kPolicy = R"(
[[rule]]
id = "vendor-rdp-print-e2e"
effect = "allow"
[rule.match]
roles = ["vendor"]
protocols = ["rdp"]
assets = ["printer-*"]
[rule.limits]
max_duration = "4h"
warning_period = "1m"
approvals = 1
recording = "required"
mfa = "required"
[rule.rdp]
printer = true

[[rule]]
id = "vendor-rdp-e2e"
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
[rule.rdp]
clipboard = true
drive = true
audio = true
)";
// The clipboard texts of the second desktop (xrdp): pasted by the vendor, copied on the target.
constexpr const char* kClipboardAsset = "panel";
constexpr const char* kToTarget = "setpoint TIC-101 = 72.5 (from Chromium)";
constexpr const char* kFromTarget = "alarm list exported on the HMI: 3 active";
// The third desktop (xrdp with its channel server, which mounts the session's drive).
constexpr const char* kDriveAsset = "share";
// The fourth desktop prints a page with this text to the printer the session offers.
constexpr const char* kPrintAsset = "printer-hmi";
constexpr const char* kPrintText = "TANK 4 LEVEL 73 PERCENT";

/// The broker (`conduit serve` with the RDP worker), the shadow server as asset `desk` (its
/// password in the vault, its certificate pinned by one probe) and alice's approved rdp grant.
struct World {
  test::TempDir dir;
  std::string data = (dir / "data").string();
  std::string config = (dir / "conduit.toml").string();
  test::RdpTarget target;
  test::XrdpTarget
      panel;  // a second desktop, with a clipboard channel (the shadow server has none)
  // A third, with a drive and sound.
  test::XrdpTarget share{test::XrdpTarget::Options{.drives = true, .audio = true}};
  // A fourth, which prints.
  test::PrintTarget printing{
      {CONDUIT_TEST_RDP_PRINTER, test::postScriptDocument(kPrintText, 20000), 1}};
  std::unique_ptr<test::Process> broker;
  std::uint16_t portalPort = 0;
  std::string vendorSecret;
  std::string engineerSecret;
  std::string auditorSecret;

  std::pair<int, std::string> conduit(std::vector<std::string> args) {
    args.insert(args.begin(), CONDUIT_BINARY);
    return test::runCommand(args);
  }
  std::string ok(const std::vector<std::string>& args) {
    auto [rc, out] = conduit(args);
    INFO(out);
    REQUIRE(rc == 0);
    return out;
  }
  /// `conduit admin` with this world's config (so pin-rdp --probe finds the worker).
  std::string admin(const std::string& as, const std::vector<std::string>& args) {
    std::vector<std::string> full{"admin", "--config", config};
    if (!as.empty()) full.insert(full.end(), {"--as", as});
    full.insert(full.end(), args.begin(), args.end());
    return ok(full);
  }

  World() {
    ok({"init", "--data-dir", data});
    test::writeText(dir / "policy.toml", kPolicy);
    // Port 0: the kernel picks free ports; the log says which.
    test::writeText(dir / "conduit.toml", "data_dir = \"" + data +
                                              "\"\n[portal]\naddress = \"127.0.0.1\"\nport = 0\n"
                                              "[ssh]\naddress = \"127.0.0.1\"\nport = 0\n"
                                              "[rdp]\nworker = \"" CONDUIT_RDP_WORKER
                                              "\"\n"
                                              "[policy]\nfiles = [\"" +
                                              (dir / "policy.toml").string() + "\"]\n");
    test::writeText(dir / "alice.pw", std::string(kVendorPassword) + "\n");
    test::writeText(dir / "erin.pw", "Engineer-Pass-rdp-2\n");
    test::writeText(dir / "ann.pw", "Auditor-Pass-rdp-3\n");
    admin("", {"group", "add", "ops"});
    admin("", {"vendor", "add", "acme"});
    admin("", {"user", "add", "alice", "--role", "vendor", "--vendor", "acme", "--display-name",
               "Alice Vendor", "--password-file", (dir / "alice.pw").string()});
    admin("", {"user", "add", "erin", "--role", "engineer", "--group", "ops", "--display-name",
               "Erin Engineer", "--password-file", (dir / "erin.pw").string()});
    // Alice's TOTP is enrolled here, so the script can compute her codes.
    const std::string uri = admin("", {"user", "enrol-totp", "alice"});
    const auto p = uri.find("secret=");
    REQUIRE(p != std::string::npos);
    vendorSecret = uri.substr(p + 7, uri.find_first_of("&\n", p + 7) - p - 7);
    admin("", {"user", "add", "ann", "--role", "auditor", "--display-name", "Ann Auditor",
               "--password-file", (dir / "ann.pw").string()});
    const std::string annUri = admin("", {"user", "enrol-totp", "ann"});
    const auto a = annUri.find("secret=");
    REQUIRE(a != std::string::npos);
    auditorSecret = annUri.substr(a + 7, annUri.find_first_of("&\n", a + 7) - a - 7);
    // Erin's too: she watches the desktop live from the engineer's pages.
    const std::string erinUri = admin("", {"user", "enrol-totp", "erin"});
    const auto e = erinUri.find("secret=");
    REQUIRE(e != std::string::npos);
    engineerSecret = erinUri.substr(e + 7, erinUri.find_first_of("&\n", e + 7) - e - 7);

    addDesktop(kAsset, target.port(), target.user(), target.password());
    addDesktop(kClipboardAsset, panel.port(), panel.user(), panel.password());
    addDesktop(kDriveAsset, share.port(), share.user(), share.password());
    addDesktop(kPrintAsset, printing.port(), printing.user(), printing.password());

    broker = std::make_unique<test::Process>(
        std::vector<std::string>{CONDUIT_BINARY, "serve", "--config", config});
    auto line = broker->waitForLine("event=portal_listening", 20s);
    INFO(broker->errors());
    REQUIRE(line.has_value());
    portalPort = static_cast<std::uint16_t>(std::stoi(line->substr(line->find(" port=") + 6)));
    REQUIRE(portalPort != 0);
    std::string health;
    for (int i = 0; i < 50 && test::statusOf(health) != 200; ++i) {
      health = test::httpsGet(portalPort, "/healthz");
      if (test::statusOf(health) != 200) std::this_thread::sleep_for(100ms);
    }
    INFO(health);
    REQUIRE(test::statusOf(health) == 200);
  }

  /// An RDP asset on 127.0.0.1:port, its password in the vault, its certificate pinned by one
  /// probe, and alice's approved rdp grant to it.
  void addDesktop(const std::string& asset, std::uint16_t port, const std::string& user,
                  const std::string& password) {
    const auto file = dir / (asset + ".pw");
    test::writeText(file, password + "\n");
    ok({"vault", "--data-dir", data, "put", asset + "/rdp", "--value-file", file.string()});
    admin("", {"asset", "add", asset, "--owner-group", "ops", "--rdp",
               "127.0.0.1:" + std::to_string(port) + ":" + user});
    admin("", {"asset", "set-credential", asset, "--protocol", "rdp", "--secret", asset + "/rdp"});
    const std::string pinned = admin("", {"asset", "pin-rdp", asset, "--probe"});
    REQUIRE(pinned.find("sha256 ") != std::string::npos);
    const std::string requested =
        admin("alice", {"request", "--asset", asset, "--protocol", "rdp", "--duration", "1h",
                        "--reason", "e2e: check the HMI desktop"});
    const auto id = requested.substr(8, requested.find(' ', 8) - 8);
    admin("erin", {"approve", id, "--comment", "ok"});
  }

  /// Reads what the broker logged since the last call, so its stderr pipe never fills up while
  /// the browser works (a full pipe would block the broker).
  void drainBroker() { broker->waitForLine("\x01never-logged\x01", 50ms); }

  /// What the xterm's `cat` wrote to the target's file so far.
  std::string typed() const {
    return std::filesystem::exists(target.file()) ? test::readText(target.file()) : "";
  }
};

bool commandExists(const std::string& name) {
  return test::runCommand({"sh", "-c", "command -v " + name + " >/dev/null"}).first == 0;
}

/// The value of `KEY=value` on its own line in `out` ("" if absent).
std::string lineValue(const std::string& out, const std::string& key) {
  const auto at = out.find(key + "=");
  if (at == std::string::npos) return "";
  const auto from = at + key.size() + 1;
  return out.substr(from, out.find('\n', from) - from);
}

}  // namespace

TEST_CASE(
    "browser RDP in Chromium: the vendor sees the desktop, types into it and disconnects, and "
    "the session is audited and its recording verifies",
    "[e2e]") {
  const std::filesystem::path e2eDir = std::filesystem::path(CONDUIT_SOURCE_DIR) / "tests" / "e2e";
  const std::filesystem::path artefacts = CONDUIT_E2E_ARTEFACTS;
  // Nothing is skipped silently: without the browser or node this test fails and says why.
  if (!std::filesystem::exists(kChromium)) {
    FAIL("/usr/bin/chromium is missing: run scripts/deps.sh (it installs Debian's chromium)");
  }
  if (!commandExists("node")) {
    FAIL("node is missing: install Node.js 20+ (scripts/deps.sh) for the end-to-end tests");
  }
  if (!std::filesystem::exists(e2eDir / "node_modules" / "playwright-core" / "package.json")) {
    FAIL("tests/e2e/node_modules is missing: run scripts/e2e-deps.sh (npm ci of playwright-core)");
  }
  std::filesystem::create_directories(artefacts);
  for (const auto& entry : std::filesystem::directory_iterator(artefacts)) {
    // Old screenshots would pass for this run's: start from an empty directory.
    if (entry.is_regular_file()) std::filesystem::remove(entry.path());
  }

  World w;
  const std::string url = "https://127.0.0.1:" + std::to_string(w.portalPort);
  ::setenv("PORTAL_URL", url.c_str(), 1);
  ::setenv("ASSET", kAsset, 1);
  ::setenv("VENDOR_USER", "alice", 1);
  ::setenv("VENDOR_PASSWORD", kVendorPassword, 1);
  ::setenv("VENDOR_TOTP_SECRET", w.vendorSecret.c_str(), 1);
  ::setenv("ENGINEER_USER", "erin", 1);
  ::setenv("ENGINEER_PASSWORD", "Engineer-Pass-rdp-2", 1);
  ::setenv("ENGINEER_TOTP_SECRET", w.engineerSecret.c_str(), 1);
  ::setenv("AUDITOR_USER", "ann", 1);
  ::setenv("AUDITOR_PASSWORD", "Auditor-Pass-rdp-3", 1);
  ::setenv("AUDITOR_TOTP_SECRET", w.auditorSecret.c_str(), 1);
  ::setenv("TYPED_TEXT", kTyped, 1);
  ::setenv("ARTEFACTS", artefacts.c_str(), 1);
  ::setenv("CHROMIUM", kChromium, 1);
  ::setenv("CLIPBOARD_ASSET", kClipboardAsset, 1);
  ::setenv("CLIPBOARD_TO_TARGET", kToTarget, 1);
  ::setenv("CLIPBOARD_FROM_TARGET", kFromTarget, 1);
  ::setenv("DRIVE_ASSET", kDriveAsset, 1);
  ::setenv("DRIVE_PATH", (w.share.drives() / "Conduit").c_str(), 1);
  ::setenv("SOUND_SOCKET", w.share.audioSocket().c_str(), 1);
  ::setenv("PRINT_ASSET", kPrintAsset, 1);
  ::setenv("PRINT_TEXT", kPrintText, 1);

  // stdout joins stderr (Process captures stderr); the script has its own 150 s watchdog.
  // While it runs, the target's file is watched: the typed line must land there within 10 s of
  // the script pressing Enter ("TYPED_AT=<ms since the epoch>" in its output).
  test::Process story(
      {"/bin/sh", "-c", "cd '" + e2eDir.string() + "' && exec node rdp_story.mjs >&2"});
  const auto epochMs = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  std::optional<int> rc;
  std::optional<long long> landedAtMs;
  // The clipboard step: the page's text on the target's clipboard, then a copy on the target.
  std::optional<std::string> pasted;
  bool copied = false;
  const auto deadline = std::chrono::steady_clock::now() + 200s;
  while (!rc && std::chrono::steady_clock::now() < deadline) {
    rc = story.wait(100ms);
    w.drainBroker();
    if (!landedAtMs && w.typed().find(kTyped) != std::string::npos) landedAtMs = epochMs();
    if (pasted != kToTarget && story.errors().find("CLIPBOARD_SENT") != std::string::npos) {
      pasted = w.panel.clipboard();
    }
    if (!copied && pasted == kToTarget &&
        story.errors().find("CLIPBOARD_WAITING") != std::string::npos) {
      w.panel.setClipboard(kFromTarget);
      copied = true;
    }
  }
  w.drainBroker();
  test::writeText(artefacts / "story.log", story.errors());
  test::writeText(artefacts / "broker.log", w.broker->errors());
  INFO("rdp_story.mjs output:\n" << story.errors());
  INFO("broker log (last 6000 bytes):\n"
       << w.broker->errors().substr(
              w.broker->errors().size() > 6000 ? w.broker->errors().size() - 6000 : 0));
  REQUIRE(rc.has_value());
  CHECK(*rc == 0);

  // The keys reached the xterm: its `cat` wrote the line to the target's file (polled every
  // 100 ms, so the time measured is an upper bound).
  const std::string typedAt = lineValue(story.errors(), "TYPED_AT");
  REQUIRE_FALSE(typedAt.empty());
  for (int i = 0; i < 100 && !landedAtMs; ++i) {
    if (w.typed().find(kTyped) != std::string::npos) landedAtMs = epochMs();
    if (!landedAtMs) std::this_thread::sleep_for(100ms);
  }
  INFO("the target's file holds: " << w.typed());
  REQUIRE(landedAtMs.has_value());
  const long long landedMs = *landedAtMs - std::stoll(typedAt);
  WARN("typed line on the target at most " << landedMs << " ms after the browser pressed Enter");
  CHECK(landedMs <= 10000);
  // Text the vendor sent from the page's Clipboard panel became the target's clipboard (and
  // the story saw the target's copy in the panel, or it would have failed).
  CHECK(pasted == std::optional<std::string>(kToTarget));
  REQUIRE(*rc == 0);

  // The server side agrees with what the page showed: the session started as rdp and ended,
  // and its recording is sealed and verifies against the audit chain.
  const std::string sessionId = lineValue(story.errors(), "SESSION_ID");
  REQUIRE(sessionId.rfind("rdp-", 0) == 0);
  std::string events;
  bool started = false;
  bool ended = false;
  bool sealed = false;
  for (int i = 0; i < 50 && !(started && ended && sealed); ++i) {
    if (i > 0) std::this_thread::sleep_for(200ms);
    auto [rcExport, exported] = w.conduit({"audit", "--data-dir", w.data, "export"});
    REQUIRE(rcExport == 0);
    events = exported;
    std::istringstream lines(events);
    for (std::string line; std::getline(lines, line);) {
      if (line.find(sessionId) == std::string::npos) continue;
      started = started || (line.find(R"("type":"session.started")") != std::string::npos &&
                            line.find(R"("protocol":"rdp")") != std::string::npos);
      ended = ended || line.find(R"("type":"session.ended")") != std::string::npos;
      sealed = sealed || line.find(R"("type":"recording.sealed")") != std::string::npos;
    }
  }
  INFO(events);
  CHECK(started);
  CHECK(ended);
  CHECK(sealed);
  CHECK(events.find(w.target.password()) == std::string::npos);
  auto [rcChain, chain] = w.conduit({"audit", "--data-dir", w.data, "verify"});
  INFO(chain);
  CHECK(rcChain == 0);

  // The recording, found as an auditor would: `recording list` names it (ids start with rdp-).
  auto [rcList, list] = w.conduit({"recording", "--data-dir", w.data, "list"});
  INFO(list);
  REQUIRE(rcList == 0);
  std::vector<std::string> rdpRecordings;
  std::istringstream listed(list);
  for (std::string id; listed >> id;) {
    if (id.rfind("rdp-", 0) == 0) rdpRecordings.push_back(id);
  }
  // Four: the desktop's, the clipboard desktop's, the drive desktop's and the printing one's.
  const std::string clipboardSession = lineValue(story.errors(), "CLIPBOARD_SESSION_ID");
  const std::string driveSession = lineValue(story.errors(), "DRIVE_SESSION_ID");
  const std::string printSession = lineValue(story.errors(), "PRINT_SESSION_ID");
  std::sort(rdpRecordings.begin(), rdpRecordings.end());
  std::vector<std::string> expected{sessionId, clipboardSession, driveSession, printSession};
  std::sort(expected.begin(), expected.end());
  CHECK(rdpRecordings == expected);
  auto [rcVerify, verify] = w.conduit({"recording", "--data-dir", w.data, "verify", sessionId});
  INFO(verify);
  CHECK(rcVerify == 0);
  CHECK_THAT(verify, Catch::Contains("matches the audit chain"));
  // The auditor finds the clipboard session by the text copied on the target.
  std::string found;
  for (int i = 0; i < 50 && found.find(clipboardSession) == std::string::npos; ++i) {
    if (i > 0) std::this_thread::sleep_for(200ms);
    found = w.conduit({"recording", "--data-dir", w.data, "search", "HMI"}).second;
  }
  INFO(found);
  CHECK_THAT(found, Catch::Contains(clipboardSession));
  // The drive session's files, as the auditor's export lists them.
  const auto filesJson = w.dir / "drive-files.json";
  auto [rcFiles, out] = w.conduit({"recording", "--data-dir", w.data, "export", driveSession,
                                   "--format", "files", "--output", filesJson.string()});
  INFO(out);
  REQUIRE(rcFiles == 0);
  const std::string files = test::readText(filesJson);
  INFO(files);
  CHECK_THAT(files, Catch::Contains("fw-e2e.bin") && Catch::Contains("report-e2e.csv") &&
                        Catch::Contains("\"operation\":\"upload\"") &&
                        Catch::Contains("\"operation\":\"download\""));
  // The printed page the browser saved reads as the target printed it; the recording names
  // the document, its print and its save, with the SHA-256 of what the vendor got.
  const std::string pdfPath = lineValue(story.errors(), "PRINT_PDF");
  REQUIRE_FALSE(pdfPath.empty());
  const auto [rcText, text] = test::runCommand({"gs", "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH",
                                                "-sDEVICE=txtwrite", "-sOutputFile=-", pdfPath});
  CHECK(rcText == 0);
  CHECK_THAT(text, Catch::Contains(kPrintText));
  const auto printJson = w.dir / "print-files.json";
  auto [rcPrint, printOut] = w.conduit({"recording", "--data-dir", w.data, "export", printSession,
                                        "--format", "files", "--output", printJson.string()});
  INFO(printOut);
  REQUIRE(rcPrint == 0);
  const std::string printed = test::readText(printJson);
  INFO(printed);
  CHECK_THAT(printed, Catch::Contains("printer/print-1.pdf") &&
                          Catch::Contains("\"operation\":\"print\"") &&
                          Catch::Contains("\"operation\":\"download\""));
  CHECK(w.broker->errors().find(w.target.password()) == std::string::npos);
}
