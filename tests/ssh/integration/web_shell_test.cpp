// The portal's browser terminal, broker side: ssh::WebShell against a real sshd target and the
// broker's real GatewayBackendImpl (vault, CA, policy, recordings, audit) over a data directory
// set up with the `conduit` CLI.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "conduit/access/recording_keys.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/app/data_dir.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/policies/policy_set.hpp"
#include "conduit/ssh/web_shell.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/portal_repository.hpp"
#include "conduit/store/recording_index.hpp"
#include "gateway_backend_impl.hpp"
#include "ssh/integration/plant.hpp"

using namespace conduit;
using namespace std::chrono_literals;

namespace {

std::string recordedPolicy() {
  std::string policy = test::kPolicy;
  policy.replace(policy.find("recording = \"off\""), 17, "recording = \"required\"");
  return policy;
}

store::Database openDatabase(const test::Plant& plant) {
  auto db = store::Database::open(app::DataDirLayout{plant.data}.database());
  REQUIRE(db.ok());
  return std::move(*db);
}

/// The plant without `conduit serve`: the broker's gateway backend runs in this process, as
/// `conduit serve` wires it.
struct WebPlant {
  test::Plant plant;
  core::SystemClock clock;
  store::Database vaultDb;
  access::VaultService vault;
  policies::PolicySet policySet;
  std::unique_ptr<app::GatewayBackendImpl> backend;
  store::Database db;  // the test's own reads

  explicit WebPlant(const std::string& policy = recordedPolicy())
      : plant(policy, "", false),
        vaultDb(openDatabase(plant)),
        vault(vaultDb, clock),
        db(openDatabase(plant)) {
    REQUIRE(
        vault.unsealWithKeyFile(std::filesystem::path(plant.data) / "vault" / "master.key").ok());
    auto set = policies::PolicySet::load({plant.dir / "policy.toml"});
    REQUIRE(set.ok());
    policySet = std::move(*set);
    auto keys = access::openRecordingKeys(vault);
    REQUIRE(keys.ok());
    backend = std::make_unique<app::GatewayBackendImpl>(
        openDatabase(plant), policySet, vault, clock, access::LockoutPolicy{},
        app::CertificatePolicy{}, app::DataDirLayout{plant.data}.recordingsDir(), std::move(*keys));
  }

  std::string auditTrail() {
    auto [rc, out] = plant.conduit({"audit", "--data-dir", plant.data, "export"});
    REQUIRE(rc == 0);
    return out;
  }
};

/// What the vendor's browser would get: the callbacks, collected.
struct Browser {
  std::mutex mutex;
  std::condition_variable changed;
  std::string output;
  std::vector<std::string> notices;
  std::vector<std::string> closed;

  ssh::WebShellIo io() {
    return {[this](std::string_view bytes) { update([&] { output.append(bytes); }); },
            [this](const std::string& text) { update([&] { notices.push_back(text); }); },
            [this](const std::string& reason) { update([&] { closed.push_back(reason); }); }};
  }
  void update(const std::function<void()>& change) {
    {
      std::lock_guard lock(mutex);
      change();
    }
    changed.notify_all();
  }
  /// Waits until `done` holds (checked under the lock); false after `timeout`.
  bool waitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, timeout, done);
  }
  bool waitForOutput(const std::string& text, std::chrono::milliseconds timeout = 5s) {
    return waitFor([&] { return output.find(text) != std::string::npos; }, timeout);
  }
  bool waitForClosed(std::chrono::milliseconds timeout = 5s) {
    return waitFor([&] { return !closed.empty(); }, timeout);
  }
  template <typename T>
  T read(const T& field) {
    std::lock_guard lock(mutex);
    return field;
  }
};

ssh::WebShellRequest request(const std::string& asset = "hmi") {
  return {"alice", asset, "192.0.2.10", 80, 24};
}

}  // namespace

TEST_CASE(
    "web shell: a typed command runs on the target, and the session is registered, audited "
    "and recorded") {
  WebPlant w;
  w.plant.grant();
  Browser browser;
  auto shell = ssh::WebShell::start(*w.backend, request(), browser.io());
  INFO((shell ? std::string() : shell.error().message));
  REQUIRE(shell.ok());
  const std::string id = (*shell)->sessionId();
  CHECK(id.rfind("web-", 0) == 0);

  (*shell)->input("echo conduit-web-$((6*7))\n");
  INFO(browser.read(browser.output));
  REQUIRE(browser.waitForOutput("conduit-web-42"));

  // Live in the registry the portal shows and kills from, and in the audit trail.
  auto row = store::SessionRepository(w.db).session(id);
  REQUIRE(row.ok());
  CHECK(row->user == "alice");
  CHECK(row->asset == "hmi");
  CHECK(row->source == "192.0.2.10");
  CHECK_FALSE(row->endedAt.has_value());
  // The target accepted a certificate minted for this session (its key id is the session id).
  CHECK(w.plant.target->waitForLog("ID \"" + id + "\"", 5s).has_value());

  (*shell)->close("vendor closed the tab");
  REQUIRE(browser.waitForClosed());
  shell->reset();  // joins the shell's thread
  CHECK(browser.read(browser.closed) == std::vector<std::string>{"vendor closed the tab"});

  auto ended = store::SessionRepository(w.db).session(id);
  REQUIRE(ended.ok());
  CHECK(ended->endedAt.has_value());
  CHECK(ended->endReason == "vendor closed the tab");
  CHECK(ended->bytesToVendor > 0);
  const std::string audit = w.auditTrail();
  CHECK_THAT(audit, Catch::Contains(R"("type":"session.started")") &&
                        Catch::Contains(R"("type":"session.ended")") &&
                        Catch::Contains(R"("type":"recording.sealed")") &&
                        Catch::Contains("session:" + id));

  // Sealed and indexed: full-text search finds the session by what its terminal showed.
  auto hits = store::RecordingIndex(w.db).search("conduit-web-42");
  REQUIRE(hits.ok());
  REQUIRE(hits->size() == 1);
  CHECK(hits->front().recording.sessionId == id);
  CHECK(hits->front().recording.user == "alice");
  CHECK(std::filesystem::exists(app::DataDirLayout{w.plant.data}.recordingsDir() /
                                hits->front().recording.file));
  auto [rcVerify, verify] =
      w.plant.conduit({"recording", "--data-dir", w.plant.data, "verify", id});
  INFO(verify);
  CHECK(rcVerify == 0);
  CHECK_THAT(verify, Catch::Contains(": intact"));
}

TEST_CASE("web shell: a resize reaches the target's pty") {
  WebPlant w(test::kPolicy);
  w.plant.grant();
  Browser browser;
  auto shell = ssh::WebShell::start(*w.backend, request(), browser.io());
  REQUIRE(shell.ok());
  (*shell)->input("stty size\n");
  CHECK(browser.waitForOutput("24 80"));
  (*shell)->resize(120, 40);
  (*shell)->resize(0, 40);      // out of range: ignored
  (*shell)->resize(120, 5000);  // out of range: ignored
  (*shell)->input("stty size\n");
  INFO(browser.read(browser.output));
  CHECK(browser.waitForOutput("40 120"));
}

TEST_CASE("web shell: without a grant nothing connects and the refusal is audited") {
  WebPlant w(test::kPolicy);
  Browser browser;
  auto shell = ssh::WebShell::start(*w.backend, request(), browser.io());
  REQUIRE_FALSE(shell.ok());
  CHECK(shell.error().code == core::ErrorCode::permission_denied);
  CHECK(shell.error().message == "access to hmi refused: no grant for ssh to hmi");
  CHECK(browser.read(browser.closed).empty());
  // sshd logs every connection it accepts ("Connection from"): there was none.
  CHECK_FALSE(w.plant.target->waitForLog("Connection from", 500ms).has_value());
  CHECK_THAT(w.auditTrail(), Catch::Contains(R"("type":"connect.refused")") &&
                                 Catch::Contains("no grant for ssh to hmi"));
  auto open = store::SessionRepository(w.db).open();
  REQUIRE(open.ok());
  CHECK(open->empty());
}

TEST_CASE("web shell: revoking the grant ends the shell within about a second, with a notice") {
  WebPlant w(test::kPolicy);
  w.plant.grant();
  Browser browser;
  auto shell = ssh::WebShell::start(*w.backend, request(), browser.io());
  REQUIRE(shell.ok());
  (*shell)->input("echo before-revoke\n");
  REQUIRE(browser.waitForOutput("before-revoke"));
  w.plant.admin("erin", {"revoke", "1", "--reason", "vendor left site"});
  const auto revokedAt = std::chrono::steady_clock::now();
  REQUIRE(browser.waitForClosed(3s));
  CHECK(std::chrono::steady_clock::now() - revokedAt < 2s);
  const auto notices = browser.read(browser.notices);
  REQUIRE_FALSE(notices.empty());
  CHECK_THAT(notices.back(), Catch::StartsWith("access ended: ") && Catch::Contains("revoked"));
  CHECK_THAT(browser.read(browser.closed).front(), Catch::StartsWith("access ended: "));
  // Typing after the end changes nothing.
  (*shell)->input("echo after-revoke\n");
  shell->reset();
  CHECK(browser.read(browser.closed).size() == 1);
  CHECK(browser.read(browser.output).find("after-revoke") == std::string::npos);
}

TEST_CASE("web shell: the shell exiting ends the session with its exit status") {
  WebPlant w(test::kPolicy);
  w.plant.grant();
  Browser browser;
  auto shell = ssh::WebShell::start(*w.backend, request(), browser.io());
  REQUIRE(shell.ok());
  const std::string id = (*shell)->sessionId();
  (*shell)->input("exit 3\n");
  REQUIRE(browser.waitForClosed());
  CHECK(browser.read(browser.closed) == std::vector<std::string>{"shell exited (status 3)"});
  shell->reset();
  auto row = store::SessionRepository(w.db).session(id);
  REQUIRE(row.ok());
  CHECK(row->endReason == "shell exited (status 3)");
}

TEST_CASE("web shell: a window that ends soon is announced once") {
  WebPlant w(test::kPolicy);
  // 30 s window, 1 min warning period: the warning is due at the first re-check.
  w.plant.grant("hmi", "30s");
  Browser browser;
  auto shell = ssh::WebShell::start(*w.backend, request(), browser.io());
  REQUIRE(shell.ok());
  REQUIRE(browser.waitFor([&] { return !browser.notices.empty(); }));
  std::this_thread::sleep_for(2500ms);  // two more re-checks: no second warning
  const auto notices = browser.read(browser.notices);
  REQUIRE(notices.size() == 1);
  CHECK_THAT(notices.front(), Catch::StartsWith("your access window ends at ") &&
                                  Catch::EndsWith("save your work."));
  CHECK(browser.read(browser.closed).empty());
}

TEST_CASE("web shell: bulk output arrives complete, through the target's window") {
  WebPlant w(test::kPolicy);
  w.plant.grant();
  Browser browser;
  auto shell = ssh::WebShell::start(*w.backend, request(), browser.io());
  REQUIRE(shell.ok());
  // 4 MB: several times libssh's receive window and the shell's 1 MiB output bound.
  (*shell)->input("head -c 4000000 /dev/zero | tr '\\0' x; echo; echo bulk-$((20+1))\n");
  REQUIRE(browser.waitForOutput("bulk-21", 30s));
  const std::string out = browser.read(browser.output);
  CHECK(std::count(out.begin(), out.end(), 'x') >= 4000000);
}

TEST_CASE("web shell: a long session's text is indexed completely, in several transactions") {
  WebPlant w;  // recording required
  w.plant.grant();
  Browser browser;
  auto shell = ssh::WebShell::start(*w.backend, request(), browser.io());
  REQUIRE(shell.ok());
  const std::string id = (*shell)->sessionId();
  // 45,000 lines: the index takes 20,000 per transaction (the gateway's lock is released
  // between them), so the last lines are in the third.
  (*shell)->input("seq -f 'indexed-line-%g' 1 45000; echo done-$((40+2))\n");
  REQUIRE(browser.waitForOutput("done-42", 30s));
  (*shell)->close("vendor closed the tab");
  REQUIRE(browser.waitForClosed(30s));
  shell->reset();  // joins the shell's thread: sealed and indexed by now
  for (const std::string line : {"indexed-line-1", "indexed-line-20001", "indexed-line-45000"}) {
    auto hits = store::RecordingIndex(w.db).search(line);
    REQUIRE(hits.ok());
    INFO(line);
    REQUIRE(hits->size() == 1);
    CHECK(hits->front().recording.sessionId == id);
    CHECK(hits->front().line.find(line) != std::string::npos);
    CHECK(hits->front().recording.textIndexed);  // marked complete with the last transaction
  }
  CHECK(store::RecordingIndex(w.db).textIncomplete().value().empty());
}
