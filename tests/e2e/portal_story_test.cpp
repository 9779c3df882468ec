// The portal's acceptance story end to end in real Chromium: a real sshd target trusting the
// broker's SSH CA, a real `conduit serve` seeded with the CLI, and tests/e2e/portal_story.mjs
// (playwright-core driving Debian's /usr/bin/chromium) playing vendor, engineer and auditor.
// Screenshots of every step are kept in <build dir>/e2e-artefacts.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ssh/integration/sshd_fixture.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tls_client.hpp"

using namespace conduit;
using namespace std::chrono_literals;

namespace {

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kAsset = "hmi";

// Vendors may open SSH after one approval; every session is recorded (so the auditor has a
// recording to find); the portal's own TOTP login is the second factor.
constexpr const char* kPolicy = R"(
[[rule]]
id = "vendor-ssh-e2e"
effect = "allow"
[rule.match]
roles = ["vendor"]
protocols = ["ssh"]
[rule.limits]
max_duration = "4h"
warning_period = "1m"
approvals = 1
recording = "required"
mfa = "optional"
)";

struct World {
  test::TempDir dir;
  std::string data = (dir / "data").string();
  test::TestAccount account{"conduit-e2e"};
  std::unique_ptr<test::Sshd> target;
  std::unique_ptr<test::Process> broker;
  std::uint16_t portalPort = 0;
  std::string vendorSecret;

  std::pair<int, std::string> conduit(std::vector<std::string> args) {
    args.insert(args.begin(), CONDUIT_BINARY);
    return test::runCommand(args);
  }
  std::string admin(const std::string& as, std::vector<std::string> args) {
    std::vector<std::string> full{"admin", "--data-dir", data};
    if (!as.empty()) {
      full.push_back("--as");
      full.push_back(as);
    }
    full.insert(full.end(), args.begin(), args.end());
    auto [rc, out] = conduit(full);
    INFO(out);
    REQUIRE(rc == 0);
    return out;
  }

  World() {
    auto [rcInit, init] = conduit({"init", "--data-dir", data});
    INFO(init);
    REQUIRE(rcInit == 0);
    auto [rcCa, caLine] = conduit({"vault", "--data-dir", data, "ssh-ca", "public-key"});
    REQUIRE(rcCa == 0);
    account.allowKeyLoginsOnly();
    test::SshdOptions o;
    o.allowUsers = {account.name()};
    o.trustedUserCaKeys = caLine;
    target = std::make_unique<test::Sshd>(o);

    test::writeText(dir / "policy.toml", kPolicy);
    test::writeText(dir / "alice.pw", "Vendor-Pass-e2e-1\n");
    test::writeText(dir / "erin.pw", "Engineer-Pass-e2e-2\n");
    test::writeText(dir / "ann.pw", "Auditor-Pass-e2e-3\n");
    test::writeText(dir / "root.pw", "Admin-Pass-e2e-4\n");
    admin("", {"group", "add", "ops"});
    admin("", {"vendor", "add", "acme"});
    admin("", {"user", "add", "alice", "--role", "vendor", "--vendor", "acme", "--display-name",
               "Alice Vendor", "--password-file", (dir / "alice.pw").string()});
    admin("", {"user", "add", "erin", "--role", "engineer", "--group", "ops", "--display-name",
               "Erin Engineer", "--password-file", (dir / "erin.pw").string()});
    admin("", {"user", "add", "ann", "--role", "auditor", "--display-name", "Ann Auditor",
               "--password-file", (dir / "ann.pw").string()});
    admin("", {"user", "add", "root", "--role", "admin", "--display-name", "Root Admin",
               "--password-file", (dir / "root.pw").string()});
    admin("", {"asset", "add", kAsset, "--owner-group", "ops", "--criticality", "medium", "--ssh",
               "127.0.0.1:" + std::to_string(target->port()) + ":" + account.name(),
               "--ssh-host-key", target->hostKeyLine()});
    // Alice's TOTP is enrolled here, so the script knows her secret; erin and ann enrol in the
    // browser on their first sign-in.
    const std::string uri = admin("", {"user", "enrol-totp", "alice"});
    const auto p = uri.find("secret=");
    REQUIRE(p != std::string::npos);
    vendorSecret = uri.substr(p + 7, uri.find_first_of("&\n", p + 7) - p - 7);

    // Port 0: the kernel picks free ports; the log says which. Three people sign in from
    // 127.0.0.1 within a minute, so the per-address login limit is raised above that.
    test::writeText(dir / "conduit.toml",
                    "data_dir = \"" + data +
                        "\"\n[portal]\naddress = \"127.0.0.1\"\nport = 0\n"
                        "login_attempts_per_minute = 60\n"
                        "[ssh]\naddress = \"127.0.0.1\"\nport = 0\n"
                        "login_banner = \"AUTHORISED USE ONLY. Sessions are recorded.\"\n"
                        "[policy]\nfiles = [\"" +
                        (dir / "policy.toml").string() + "\"]\n");
    broker = std::make_unique<test::Process>(std::vector<std::string>{
        CONDUIT_BINARY, "serve", "--config", (dir / "conduit.toml").string()});
    auto line = broker->waitForLine("event=portal_listening", 20s);
    INFO(broker->errors());
    REQUIRE(line.has_value());
    portalPort = static_cast<std::uint16_t>(std::stoi(line->substr(line->find("port=") + 5)));
    REQUIRE(portalPort != 0);
    std::string health;
    for (int i = 0; i < 50 && test::statusOf(health) != 200; ++i) {
      health = test::httpsGet(portalPort, "/healthz");
      if (test::statusOf(health) != 200) std::this_thread::sleep_for(100ms);
    }
    INFO(health);
    REQUIRE(test::statusOf(health) == 200);
  }

  /// Reads what the broker logged since the last call, so its stderr pipe never fills up while
  /// the browser works (a full pipe would block the broker).
  void drainBroker() { broker->waitForLine("\x01never-logged\x01", 50ms); }
};

bool commandExists(const std::string& name) {
  return test::runCommand({"sh", "-c", "command -v " + name + " >/dev/null"}).first == 0;
}

}  // namespace

// The story: request -> approval -> browser terminal -> live view -> kill -> search, verify,
// replay and the audit log.
TEST_CASE("portal story in Chromium from the access request to the audit log", "[e2e]") {
  const std::filesystem::path e2eDir = std::filesystem::path(CONDUIT_SOURCE_DIR) / "tests" / "e2e";
  const std::filesystem::path artefacts = CONDUIT_E2E_ARTEFACTS;
  // Nothing is skipped silently: without the browser or node this test fails and says why.
  if (!std::filesystem::exists(kChromium)) {
    FAIL("/usr/bin/chromium is missing: run scripts/deps.sh (it installs Debian's chromium)");
  }
  if (!commandExists("node")) {
    FAIL("node is missing: install Node.js 20+ (scripts/deps.sh) for the portal end-to-end test");
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
  ::setenv("VENDOR_PASSWORD", "Vendor-Pass-e2e-1", 1);
  ::setenv("VENDOR_TOTP_SECRET", w.vendorSecret.c_str(), 1);
  ::setenv("ENGINEER_USER", "erin", 1);
  ::setenv("ENGINEER_PASSWORD", "Engineer-Pass-e2e-2", 1);
  ::setenv("AUDITOR_USER", "ann", 1);
  ::setenv("AUDITOR_PASSWORD", "Auditor-Pass-e2e-3", 1);
  ::setenv("ADMIN_USER", "root", 1);
  ::setenv("ADMIN_PASSWORD", "Admin-Pass-e2e-4", 1);
  ::setenv("ARTEFACTS", artefacts.c_str(), 1);
  ::setenv("CHROMIUM", kChromium, 1);
  ::unsetenv("E2E_UNTIL");  // the registered test always plays the whole story

  // stdout joins stderr (Process captures stderr); the script has its own 240 s watchdog.
  test::Process story(
      {"/bin/sh", "-c", "cd '" + e2eDir.string() + "' && exec node portal_story.mjs >&2"});
  std::optional<int> rc;
  const auto deadline = std::chrono::steady_clock::now() + 260s;
  while (!rc && std::chrono::steady_clock::now() < deadline) {
    rc = story.wait(100ms);
    w.drainBroker();
  }
  w.drainBroker();
  test::writeText(artefacts / "story.log", story.errors());
  test::writeText(artefacts / "broker.log", w.broker->errors());
  INFO("portal_story.mjs output:\n" << story.errors());
  INFO("broker log (last 6000 bytes):\n"
       << w.broker->errors().substr(
              w.broker->errors().size() > 6000 ? w.broker->errors().size() - 6000 : 0));
  REQUIRE(rc.has_value());
  REQUIRE(*rc == 0);

  // The server side agrees with what the pages showed.
  const std::string& out = story.errors();
  const auto at = out.find("SESSION_ID=");
  REQUIRE(at != std::string::npos);
  const std::string sessionId = out.substr(at + 11, out.find('\n', at) - at - 11);
  REQUIRE_FALSE(sessionId.empty());
  auto [rcVerify, verify] = w.conduit({"audit", "--data-dir", w.data, "verify"});
  INFO(verify);
  CHECK(rcVerify == 0);
  auto [rcExport, events] = w.conduit({"audit", "--data-dir", w.data, "export"});
  REQUIRE(rcExport == 0);
  bool killed = false;
  bool sealed = false;
  std::istringstream lines(events);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"target\":\"session:" + sessionId + "\"") == std::string::npos) continue;
    killed = killed || line.find(R"("type":"session.killed")") != std::string::npos;
    sealed = sealed || line.find(R"("type":"recording.sealed")") != std::string::npos;
  }
  INFO(events);
  CHECK(killed);
  CHECK(sealed);
  auto [rcRec, rec] = w.conduit({"recording", "--data-dir", w.data, "verify", sessionId});
  INFO(rec);
  CHECK(rcRec == 0);
}
