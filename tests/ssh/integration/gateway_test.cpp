// The SSH gateway end to end: real OpenSSH client -> `conduit serve` -> real sshd target, with
// the vendor's key + TOTP, a grant from the CLI workflow, and a per-session certificate.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "conduit/access/vault_service.hpp"
#include "conduit/core/totp.hpp"
#include "conduit/ssh/target.hpp"
#include "conduit/store/database.hpp"
#include "portal/ws_client.hpp"
#include "ssh/integration/plant.hpp"
#include "ssh/integration/sshd_fixture.hpp"
#include "ssh/integration/tunnel_support.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace conduit;
using namespace std::chrono_literals;

using test::kPolicy;
using test::Plant;

TEST_CASE("exec through the gateway: stdout, stderr and exit code pass through") {
  Plant p;
  p.grant();
  auto [rc, out, err] = p.ssh("alice+hmi", "id -un; echo to-stderr >&2; exit 3");
  p.broker->waitForLine("event=session_ended", 2s);
  INFO(err);
  INFO(p.broker->errors());
  CHECK(rc == 3);
  CHECK(out == p.account.name() + "\n");
  CHECK_THAT(err, Catch::Contains("to-stderr"));
  CHECK_THAT(err, Catch::Contains("AUTHORISED USE ONLY"));  // the login banner
  // The target accepted a per-session certificate minted by the broker's CA.
  CHECK(p.target->waitForLog("Accepted publickey", 5s).has_value());
  CHECK(p.target->waitForLog("ID ssh-", 5s).has_value());
}

TEST_CASE("no grant, wrong code or an unregistered key: refused with a reason") {
  Plant p;
  SECTION("no grant") {
    auto [rc, out, err] = p.ssh("alice+hmi", "true");
    CHECK(rc == 255);
    CHECK_THAT(err, Catch::Contains("access to hmi refused: no grant for ssh to hmi"));
  }
  SECTION("no asset named and no grant valid now: no menu, the refusal says why") {
    auto [rc, out, err] = p.ssh("alice", "true");
    CHECK(rc == 255);
    CHECK_THAT(err, Catch::Contains("Conduit: name an asset: ssh alice+ASSET@host") &&
                        Catch::Contains("You hold no grant that is valid now."));
    CHECK_THAT(err, !Catch::Contains("Asset (number or name)"));
  }
  SECTION("wrong TOTP code") {
    p.grant();
    p.freshCode();
    test::writeText(p.dir / "askpass.sh", "#!/bin/sh\necho 000000\n");
    const std::string cmd = "SSH_ASKPASS=" + (p.dir / "askpass.sh").string() +
                            " SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ssh -T -p " +
                            std::to_string(p.sshPort) + " -i " + (p.dir / "vendor_key").string() +
                            " -o IdentitiesOnly=yes -o StrictHostKeyChecking=no"
                            " -o UserKnownHostsFile=/dev/null alice+hmi@127.0.0.1 true </dev/null";
    auto [rc, out] = test::runCommand({"sh", "-c", cmd});
    CHECK(rc == 255);
    CHECK_THAT(out, Catch::Contains("Permission denied"));
  }
  SECTION("a policy-denied command") {
    p.grant();
    auto [rc, out, err] = p.ssh("alice+hmi", "shutdown -h now");
    CHECK(rc != 0);
    CHECK_THAT(err, Catch::Contains("command refused by policy"));
  }
}

namespace {

/// How a menuSsh login authenticates and how slowly it answers the menu.
struct MenuLogin {
  bool password = false;  // password + code (keyboard-interactive only) instead of key + code
  int menuDelaySeconds = 0;
};

/// ssh through the gateway with a login that names no asset: the askpass script answers the
/// code prompt with the current code, the password prompt with the vendor's password and the
/// asset menu's prompt with `choice`, and appends every prompt it is shown to `dir/prompts`.
/// Returns {exit code, stdout, stderr}.
std::tuple<int, std::string, std::string> menuSsh(Plant& p, const std::string& choice,
                                                  const std::string& command, MenuLogin how = {}) {
  p.freshCode();
  const auto askpass = p.dir / "menu-askpass.sh";
  test::writeText(askpass, "#!/bin/sh\necho \"$1\" >> " + (p.dir / "prompts").string() +
                               "\ncase \"$1\" in\n  *'Asset (number or name): ') sleep " +
                               std::to_string(how.menuDelaySeconds) + "; echo " +
                               test::shellQuote(choice) + " ;;\n  *'Verification code: ') cat " +
                               (p.dir / "code").string() + " ;;\n  *'Password: ') head -n1 " +
                               (p.dir / "pw").string() + " ;;\n  *) exit 1 ;;\nesac\n");
  std::filesystem::permissions(askpass, std::filesystem::perms::owner_all);
  const std::string auth =
      how.password ? " -o PubkeyAuthentication=no -o PreferredAuthentications=keyboard-interactive"
                   : " -i " + (p.dir / "vendor_key").string() +
                         " -o IdentitiesOnly=yes"
                         " -o PreferredAuthentications=publickey,keyboard-interactive";
  const std::string cmd =
      "SSH_ASKPASS=" + askpass.string() + " SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ssh -T -p " +
      std::to_string(p.sshPort) + auth +
      " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10"
      " alice@127.0.0.1 " +
      test::shellQuote(command) + " </dev/null >" + (p.dir / "out").string() + " 2>" +
      (p.dir / "err").string();
  auto [rc, ignored] = test::runCommand({"sh", "-c", cmd});
  return {rc, test::readText(p.dir / "out"), test::readText(p.dir / "err")};
}

/// How many times the askpass script was asked the asset menu's question.
int menuRounds(Plant& p) {
  const std::string prompts = test::readText(p.dir / "prompts");
  int n = 0;
  for (auto at = prompts.find("Asset (number or name): "); at != std::string::npos;
       at = prompts.find("Asset (number or name): ", at + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("a login without an asset gets a menu of the granted assets and reaches the chosen one") {
  std::string policy = kPolicy;
  policy.replace(policy.find("recording = \"off\""), 17, "recording = \"required\"");
  Plant p(policy);
  p.grant("hmi");
  SECTION("answering 1") {
    auto [rc, out, err] = menuSsh(p, "1", "id -un; echo menu-marker-1");
    INFO(err);
    INFO(p.broker->errors());
    REQUIRE(rc == 0);
    CHECK(out == p.account.name() + "\nmenu-marker-1\n");
    CHECK(menuRounds(p) == 1);
    // The menu as the vendor's terminal shows it (the keyboard-interactive instruction).
    CHECK_THAT(err, Catch::Contains("Assets you may reach now (or log in as alice+ASSET") &&
                        Catch::Contains("1) hmi (until ") && Catch::Contains(" UTC)"));
    auto started = p.broker->waitForLine("event=session_started", 5s);
    REQUIRE(started.has_value());
    CHECK_THAT(*started, Catch::Contains("user=alice asset=hmi"));
    REQUIRE(p.broker->waitForLine("event=session_ended", 10s).has_value());
    std::this_thread::sleep_for(300ms);
    // The recording and the audit trail carry the chosen asset like any named login's.
    auto [rcFind, found] =
        p.conduit({"recording", "--data-dir", p.data, "search", "menu-marker-1"});
    CHECK(rcFind == 0);
    CHECK_THAT(found,
               Catch::StartsWith("ssh-") && Catch::Contains("alice") && Catch::Contains("hmi"));
    auto [rcAudit, audit] = p.conduit({"audit", "--data-dir", p.data, "export"});
    CHECK_THAT(audit, Catch::Contains(R"("type":"session.started")") &&
                          Catch::Contains(R"("asset":"hmi")"));
  }
  SECTION("answering a listed name, among several assets") {
    p.grant("other");
    auto [rc, out, err] = menuSsh(p, "other", "id -un");
    INFO(err);
    INFO(p.broker->errors());
    REQUIRE(rc == 0);
    CHECK(out == p.account.name() + "\n");
    CHECK_THAT(err, Catch::Contains("1) hmi (until ") && Catch::Contains("2) other (until "));
    auto started = p.broker->waitForLine("event=session_started", 5s);
    REQUIRE(started.has_value());
    CHECK_THAT(*started, Catch::Contains("asset=other"));
  }
}

TEST_CASE("the asset menu after password and code and within the authentication time limit") {
  Plant p(kPolicy, "", true, "auth_timeout_seconds = 5\n");
  p.grant("hmi");
  SECTION("password and code, then 1") {
    auto [rc, out, err] = menuSsh(p, "1", "id -un", {true, 0});
    INFO(err);
    INFO(p.broker->errors());
    REQUIRE(rc == 0);
    CHECK(out == p.account.name() + "\n");
    CHECK_THAT(test::readText(p.dir / "prompts"),
               Catch::Contains("Password: ") && Catch::Contains("Asset (number or name): "));
  }
  SECTION("an answer after the time limit is too late") {
    auto [rc, out, err] = menuSsh(p, "1", "id -un", {false, 8});
    INFO(err);
    CHECK(rc == 255);
    CHECK(out.empty());
    CHECK(menuRounds(p) == 1);
    CHECK_FALSE(p.broker->waitForLine("event=session_started", 1s).has_value());
  }
}

TEST_CASE("the asset menu asks once more after a wrong answer and then refuses with the reason") {
  Plant p;
  p.grant("hmi");
  SECTION("an asset that is not granted: the access decision's reason, audited") {
    auto [rc, out, err] = menuSsh(p, "other", "id -un");
    INFO(err);
    CHECK(rc == 255);
    CHECK(out.empty());
    CHECK(menuRounds(p) == 2);
    CHECK_THAT(err, Catch::Contains("\"other\" is not on the list; try again."));
    CHECK_THAT(err, Catch::Contains("Conduit: access to other refused: no grant for ssh to other"));
    auto [rcAudit, audit] = p.conduit({"audit", "--data-dir", p.data, "export"});
    CHECK_THAT(audit,
               Catch::Contains(R"("type":"connect.refused")") && Catch::Contains("asset:other"));
    CHECK_THAT(audit, !Catch::Contains(R"("type":"session.started")"));
  }
  SECTION("a number that is not on the list") {
    auto [rc, out, err] = menuSsh(p, "7", "id -un");
    INFO(err);
    CHECK(rc == 255);
    CHECK(menuRounds(p) == 2);
    CHECK_THAT(err, Catch::Contains("Conduit: no asset selected: \"7\" is not on the list"));
  }
}

TEST_CASE("revocation ends a live session within about a second, with a notice") {
  Plant p;
  p.grant();
  p.freshCode();
  const std::string cmd = "SSH_ASKPASS=" + (p.dir / "askpass.sh").string() +
                          " SSH_ASKPASS_REQUIRE=force DISPLAY=:0 exec ssh -T -p " +
                          std::to_string(p.sshPort) + " -i " + (p.dir / "vendor_key").string() +
                          " -o IdentitiesOnly=yes -o StrictHostKeyChecking=no"
                          " -o UserKnownHostsFile=/dev/null alice+hmi@127.0.0.1 'echo started;"
                          " sleep 60' </dev/null";
  test::Process session({"/bin/sh", "-c", cmd});
  // stderr of the session carries the banner; wait until the command runs on the target.
  REQUIRE(p.broker->waitForLine("event=session_started", 15s).has_value());
  std::this_thread::sleep_for(500ms);
  const auto revokedAt = std::chrono::steady_clock::now();
  p.admin("erin", {"revoke", "1", "--reason", "vendor left site"});
  auto rc = session.wait(10s);
  const auto took = std::chrono::steady_clock::now() - revokedAt;
  REQUIRE(rc.has_value());
  CHECK(*rc != 0);
  CHECK(took < 3s);
  CHECK_THAT(session.errors(), Catch::Contains("access ended") && Catch::Contains("revoked"));
  CHECK(p.broker->waitForLine("event=session_ended", 5s).has_value());
}

TEST_CASE(
    "sftp and scp move a 20 MiB file intact both ways and the recording names it with its hash") {
  std::string policy = kPolicy;
  policy.replace(policy.find("recording = \"off\""), 17, "recording = \"required\"");
  Plant p(policy);
  p.grant();
  REQUIRE(test::runCommand(
              {"sh", "-c", "head -c 20971520 /dev/urandom > " + (p.dir / "big.bin").string()})
              .first == 0);
  p.freshCode();
  const std::string base = p.askpassEnv();
  // One login (a TOTP code is accepted once), then every transfer multiplexes a new channel
  // over the same connection: that also exercises several channels per vendor connection.
  const std::string opts = p.sharedConnectionOptions();
  const std::string remote = "/tmp/conduit-gw-" + std::to_string(::getpid()) + ".bin";
  auto [rcPut, putOut] = test::runCommand(
      {"sh", "-c",
       base + "sftp -P " + std::to_string(p.sshPort) + opts + "alice+hmi@127.0.0.1 <<EOF\nput " +
           (p.dir / "big.bin").string() + " " + remote + "\nget " + remote + " " +
           (p.dir / "back.bin").string() + "\nrm " + remote + "\nEOF"});
  INFO(putOut);
  INFO(p.broker->errors());
  REQUIRE(rcPut == 0);
  auto [rc1, sum1] = test::runCommand({"sha256sum", (p.dir / "big.bin").string()});
  auto [rc2, sum2] = test::runCommand({"sha256sum", (p.dir / "back.bin").string()});
  CHECK(sum1.substr(0, 64) == sum2.substr(0, 64));

  // An engineer watches the session (still open: the shared connection) from now on: the
  // files the scp steps below move show in the live view as they are recorded.
  const auto started = p.broker->waitForLine("event=session_started", 5s);
  REQUIRE(started.has_value());
  const auto at = started->find("session=") + 8;
  const std::string sessionId = started->substr(at, started->find(' ', at) - at);
  const std::uint16_t portal = test::portalPort(p);
  const auto erin = test::signIn(portal, "erin", test::enrolTotp(p, "erin"));
  test::WsClient watch;
  REQUIRE(watch.connect(portal, "/api/v1/sessions/" + sessionId + "/live",
                        "__Host-conduit-session=" + erin.cookie,
                        "https://127.0.0.1:" + std::to_string(portal)) == 101);

  // scp both ways: the default (SFTP-based) protocol and the legacy one (-O, an exec of scp).
  // Each is a channel on the shared connection; one try each (they failed now and then, under
  // load, until the gateway waited for the target's exit status before answering the shared
  // connection's close).
  for (const std::string mode : {"", "-O "}) {
    const std::string via = "alice+hmi@127.0.0.1:" + remote;
    const std::string scp = base + "scp " + mode + "-P " + std::to_string(p.sshPort) + opts;
    auto [rcUp, outUp] =
        test::runCommand({"sh", "-c", scp + (p.dir / "big.bin").string() + " " + via});
    INFO(outUp);
    REQUIRE(rcUp == 0);
    std::filesystem::remove(p.dir / "back.bin");
    auto [rcDown, outDown] =
        test::runCommand({"sh", "-c", scp + via + " " + (p.dir / "back.bin").string()});
    INFO(outDown);
    REQUIRE(rcDown == 0);
    auto [rc3, sum3] = test::runCommand({"sha256sum", (p.dir / "back.bin").string()});
    CHECK(sum1.substr(0, 64) == sum3.substr(0, 64));
  }
  std::filesystem::remove(remote);
  // Two uploads and two downloads of the file went by while the engineer watched.
  int seen = 0;
  for (auto m = watch.read(2s); m; m = watch.read(2s)) {
    if (m->binary || test::jsonString(m->data, "type") != "file") continue;
    INFO(m->data);
    if (test::jsonString(m->data, "path") == remote &&
        test::jsonString(m->data, "sha256") == sum1.substr(0, 64)) {
      ++seen;
    }
  }
  INFO(watch.closeReason());
  CHECK_FALSE(watch.closed());
  CHECK(seen == 4);
  test::runCommand(
      {"ssh", "-o", "ControlPath=" + (p.dir / "cm").string(), "-O", "exit", "alice+hmi@127.0.0.1"});

  // The recording names each file with its size and the SHA-256 of the bytes that moved:
  // decoded from the sftp channels (sftp, and scp, which speaks SFTP since OpenSSH 9.0) and
  // from the legacy scp protocol (scp -O).
  const bool ended = p.broker->waitForLine("event=session_ended", 40s).has_value();
  INFO(p.broker->errors());
  REQUIRE(ended);
  // Sealing (and indexing ~120 MiB of channel bytes) follows the session's end.
  std::string id;
  bool foundByName = false;
  for (int i = 0; i < 100 && !foundByName; ++i) {
    auto [rcList, list] = p.conduit({"recording", "--data-dir", p.data, "list"});
    REQUIRE(rcList == 0);
    id = list.substr(0, list.find(' '));
    auto [rcSearch, found] = p.conduit(
        {"recording", "--data-dir", p.data, "search", std::filesystem::path(remote).filename()});
    foundByName = !id.empty() && found.find(id) != std::string::npos;
    if (!foundByName) std::this_thread::sleep_for(200ms);
  }
  CHECK(foundByName);  // a search by the file's name finds the session
  const std::string hash = sum1.substr(0, 64);
  int uploads = 0, downloads = 0, removals = 0;
  for (const auto& f : test::recordedFiles(p, id, "events.jsonl")) {
    INFO(f.operation + " " + f.path + " " + f.detail);
    CHECK(f.kind == "file_transfer");
    if (f.path != remote) continue;
    if (f.operation == "upload" || f.operation == "download") {
      CHECK(f.size == 20971520);
      CHECK(f.sha256 == hash);
      // scp -O names the file as the vendor's side has it; the target may hold a directory by
      // the path's name (only it knows), and the record says so.
      CHECK((f.detail.empty() || f.detail.rfind("sent as big.bin; ", 0) == 0));
      CHECK(f.direction == (f.operation == "upload" ? "to_target" : "to_client"));
      ++(f.operation == "upload" ? uploads : downloads);
    }
    if (f.operation == "remove") ++removals;
  }
  CHECK(uploads == 3);  // sftp put, scp, scp -O (the legacy protocol, an exec of scp -t)
  CHECK(downloads == 3);
  CHECK(removals == 1);

  // The auditor's portal lists the same files (the replay page's "Files" card), audited as
  // an export.
  p.admin("",
          {"user", "add", "ann", "--role", "auditor", "--password-file", (p.dir / "pw").string()});
  const auto ann = test::signIn(portal, "ann", test::enrolTotp(p, "ann"));
  const auto served =
      test::call(portal, "GET", "/api/v1/recordings/" + id + "/export?format=files", ann.headers());
  INFO(served.raw.substr(0, 600));
  REQUIRE(served.status == 200);
  const auto doc = boost::json::parse(served.body).as_object();
  CHECK(doc.at("session_id").as_string() == id);
  int listed = 0;
  for (const auto& f : doc.at("files").as_array()) {
    const auto& o = f.as_object();
    if (o.at("path").as_string() == remote && o.at("sha256").as_string() == hash) ++listed;
  }
  CHECK(listed == 6);
  CHECK(test::count(test::auditOnce(p, "\"format\":\"files\""), "\"format\":\"files\"") == 1);
  // And by the file's hash, like a command.
  auto [rcSearch, found] = p.conduit({"recording", "--data-dir", p.data, "search", hash});
  INFO(found);
  CHECK(rcSearch == 0);
  CHECK_THAT(found, Catch::Contains(id) && Catch::Contains("upload"));
}

TEST_CASE("a command that closes its output before it exits still gives the vendor its exit code") {
  // A shared connection's master (ControlPersist: the command runs as its mux client) closes
  // the channel once both directions have ended; the exit status comes a second later here.
  // The gateway must wait for it, as sshd does, or ssh exits 255 (and scp or sftp over a
  // shared connection failed with nothing but "Connection closed").
  Plant p;
  p.grant();
  const std::string control = (p.dir / "cm").string();
  auto [rc, out, err] =
      p.ssh("alice+hmi", "echo before; exec >&- 2>&-; sleep 1; exit 7",
            "-o ControlMaster=auto -o ControlPersist=60 -o ControlPath=" + control);
  INFO(err);
  INFO(p.broker->errors());
  CHECK(rc == 7);
  CHECK(out == "before\n");
  test::runCommand({"ssh", "-o", "ControlPath=" + control, "-O", "exit", "alice+hmi@127.0.0.1"});
}

TEST_CASE("a terminal the vendor's client closes ends on the target at once") {
  // A shared connection's client killed (its terminal window closed): the master closes the
  // channel while the target's command still runs. A terminal's close is not waited on for an
  // exit status (that waits for commands without a terminal, above): the target's channel
  // closes, and sshd hangs up the command.
  Plant p;
  p.grant();
  p.freshCode();
  const std::string marker = "sleep 47.25";
  const std::string cmd = p.askpassEnv() + "exec ssh -tt -p " + std::to_string(p.sshPort) +
                          p.sharedConnectionOptions() + "alice+hmi@127.0.0.1 '" + marker +
                          "' </dev/null";
  auto running = [&] { return test::runCommand({"pgrep", "-f", "^" + marker}).first == 0; };
  auto client = std::make_unique<test::Process>(std::vector<std::string>{"/bin/sh", "-c", cmd});
  bool started = false;
  for (int i = 0; i < 100 && !started; ++i) {
    std::this_thread::sleep_for(100ms);
    started = running();
  }
  INFO(p.broker->errors());
  REQUIRE(started);
  // The mux client (the vendor's ssh) goes; the master (ControlPersist) stays.
  REQUIRE(
      test::runCommand({"pkill", "-KILL", "-f", "ssh -tt -p " + std::to_string(p.sshPort)}).first ==
      0);
  const auto killed = std::chrono::steady_clock::now();
  while (running() && std::chrono::steady_clock::now() - killed < 15s) {
    std::this_thread::sleep_for(100ms);
  }
  const auto took = std::chrono::steady_clock::now() - killed;
  INFO("the target's command ran on for "
       << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(took < 4s);
  client.reset();
  // A terminal's command that ends by itself still gives its exit code through the master
  // (sshd may send the terminal's EOF before the status: a race, so several rounds).
  for (int i = 0; i < 12; ++i) {
    const auto [rc, out] = test::runCommand(
        {"sh", "-c",
         p.askpassEnv() + "ssh -tt -p " + std::to_string(p.sshPort) + p.sharedConnectionOptions() +
             "alice+hmi@127.0.0.1 'echo t; exit 5' 2>&1"
             " </dev/null"});
    INFO(out);
    CHECK(rc == 5);
  }
  test::runCommand(
      {"ssh", "-o", "ControlPath=" + (p.dir / "cm").string(), "-O", "exit", "alice+hmi@127.0.0.1"});
}

TEST_CASE(
    "without file transfer in the policy sftp and scp and other subsystems are refused with the "
    "reason") {
  std::string policy = kPolicy;
  policy.replace(policy.find("sftp = true"), 11, "sftp = false");
  Plant p(policy);
  p.grant();
  p.freshCode();
  REQUIRE(test::runCommand({"sh", "-c", "echo data > " + (p.dir / "small.txt").string()}).first ==
          0);
  // One login (ControlMaster), then each refused request is a new channel on it: the vendor's
  // client must say why, not only "Connection closed".
  const std::string base = p.askpassEnv();
  const std::string opts = p.sharedConnectionOptions();
  const std::string port = std::to_string(p.sshPort);
  auto run = [&](const std::string& what) {
    return test::runCommand({"sh", "-c", base + what + " 2>&1 </dev/null"});
  };
  auto [rcSftp, sftpOut] = run("sftp -P " + port + opts + "alice+hmi@127.0.0.1");
  CHECK(rcSftp != 0);
  CHECK_THAT(sftpOut, Catch::Contains("file transfer (sftp) is not allowed by policy"));
  auto [rcScp, scpOut] = run("scp -O -P " + port + opts + (p.dir / "small.txt").string() +
                             " alice+hmi@127.0.0.1:/tmp/conduit-refused.txt");
  CHECK(rcScp != 0);
  CHECK_THAT(scpOut, Catch::Contains("file transfer (scp) is not allowed by policy"));
  auto [rcSub, subOut] =
      run("ssh -p " + port + opts + "-s alice+hmi@127.0.0.1 \"$(printf 'net\\007conf')\"");
  CHECK(rcSub != 0);
  CHECK_THAT(subOut, Catch::Contains("subsystem net?conf is not available"));
  // The same connection still runs what policy allows.
  auto [rcOk, okOut] = run("ssh -p " + port + opts + "alice+hmi@127.0.0.1 echo still-here");
  CHECK(rcOk == 0);
  CHECK_THAT(okOut, Catch::Contains("still-here"));
  CHECK_FALSE(std::filesystem::exists("/tmp/conduit-refused.txt"));
  CHECK(p.broker->waitForLine("event=ssh_request_refused", 5s).has_value());
  test::runCommand(
      {"ssh", "-o", "ControlPath=" + (p.dir / "cm").string(), "-O", "exit", "alice+hmi@127.0.0.1"});
}

TEST_CASE("a recorded session verifies, is anchored in the audit chain, and replays in asciinema") {
  std::string policy = kPolicy;
  policy.replace(policy.find("recording = \"off\""), 17, "recording = \"required\"");
  Plant p(policy);
  p.grant();
  auto [rc, out, err] = p.ssh("alice+hmi", "echo recorded-marker-42");
  INFO(err);
  REQUIRE(rc == 0);
  REQUIRE(p.broker->waitForLine("event=session_ended", 10s).has_value());
  std::this_thread::sleep_for(300ms);
  auto [rcList, list] = p.conduit({"recording", "--data-dir", p.data, "list"});
  REQUIRE(rcList == 0);
  const std::string id = list.substr(0, list.find(' '));
  REQUIRE(id.rfind("ssh-", 0) == 0);

  auto [rcVerify, verify] = p.conduit({"recording", "--data-dir", p.data, "verify", id});
  INFO(verify);
  CHECK(rcVerify == 0);
  CHECK_THAT(verify, Catch::Contains(": intact") && Catch::Contains("matches the audit chain"));

  const std::string cast = (p.dir / "s.cast").string();
  auto [rcExport, exported] = p.conduit(
      {"recording", "--data-dir", p.data, "export", id, "--format", "cast", "--output", cast});
  INFO(exported);
  REQUIRE(rcExport == 0);
  // Its own configuration directory: asciinema creates one on its first run, and two first
  // runs at once (ctest -j2 on a fresh machine) race on creating it (FileExistsError).
  auto [rcPlay, played] =
      test::runCommand({"env", "ASCIINEMA_CONFIG_HOME=" + (p.dir / "asciinema").string(),
                        "asciinema", "play", "-s", "10", cast});
  CHECK(rcPlay == 0);
  CHECK_THAT(played, Catch::Contains("recorded-marker-42"));
  auto [rcAudit, audit] = p.conduit({"audit", "--data-dir", p.data, "verify"});
  CHECK(rcAudit == 0);
  // Full-text search finds the session by what appeared on its terminal and by its command.
  auto [rcFind, found] =
      p.conduit({"recording", "--data-dir", p.data, "search", "recorded-marker-42"});
  CHECK(rcFind == 0);
  CHECK_THAT(found, Catch::StartsWith(id) && Catch::Contains("alice") && Catch::Contains("hmi"));
  auto [rcCmd, byCommand] = p.conduit({"recording", "--data-dir", p.data, "search", "echo"});
  CHECK_THAT(byCommand, Catch::Contains(id));
  auto [rcNone, none] =
      p.conduit({"recording", "--data-dir", p.data, "search", "word-that-never-appeared"});
  CHECK_THAT(none, Catch::Contains("no session matches"));
  auto [rcHostile, hostile] =
      p.conduit({"recording", "--data-dir", p.data, "search", "x\" OR recorded*"});
  CHECK(rcHostile == 0);
  CHECK_THAT(hostile, Catch::Contains("no session matches"));  // FTS syntax is not injected

  // The auditor's portal serves the same cast from a moment on (?from=SECONDS), audited; a bad
  // value is refused.
  {
    p.admin("", {"user", "add", "ann", "--role", "auditor", "--password-file",
                 (p.dir / "pw").string()});
    const std::uint16_t portal = test::portalPort(p);
    const auto ann = test::signIn(portal, "ann", test::enrolTotp(p, "ann"));
    const std::string fromCli = (p.dir / "from.cast").string();
    auto [rcFrom, fromOut] = p.conduit({"recording", "--data-dir", p.data, "export", id, "--format",
                                        "cast", "--from", "0.001", "--output", fromCli});
    INFO(fromOut);
    REQUIRE(rcFrom == 0);
    const auto served =
        test::call(portal, "GET", "/api/v1/recordings/" + id + "/cast?from=0.001", ann.headers());
    INFO(served.raw.substr(0, 600));
    CHECK(served.status == 200);
    CHECK(served.body == test::readText(fromCli));
    CHECK_THAT(served.body, Catch::Contains("recorded-marker-42"));
    const auto bad =
        test::call(portal, "GET", "/api/v1/recordings/" + id + "/cast?from=-3", ann.headers());
    CHECK(bad.status == 400);
    const std::string trail = test::auditOnce(p, "\"from_us\":1000");
    CHECK(test::count(trail, "\"from_us\":1000") == 2);  // the CLI's and the portal's
  }

  // Retention: a held recording survives a prune far in the future; once released it goes,
  // with its index entries, and the deletion is audited.
  p.ok({"recording", "--data-dir", p.data, "hold", id});
  auto [rcKeep, kept] =
      p.conduit({"recording", "--data-dir", p.data, "prune", "--now", "2099-01-01T00:00:00Z"});
  CHECK(rcKeep == 0);
  CHECK_THAT(kept, Catch::Contains("0 recording(s)"));
  const auto crec = p.dir / "data" / "recordings" / (id + ".crec");
  CHECK(std::filesystem::exists(crec));

  // One flipped byte in the middle of the file: verification fails.
  const auto file = p.dir / "data" / "recordings" / (id + ".crec");
  std::string bytes = test::readText(file);
  REQUIRE(bytes.size() > 200);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
  test::writeText(file, bytes);
  auto [rcBad, bad] = p.conduit({"recording", "--data-dir", p.data, "verify", id});
  CHECK(rcBad == 4);
  CHECK_THAT(bad, !Catch::Contains(": intact"));

  p.ok({"recording", "--data-dir", p.data, "hold", id, "--release"});
  auto [rcPrune, pruned] =
      p.conduit({"recording", "--data-dir", p.data, "prune", "--now", "2099-01-01T00:00:00Z"});
  CHECK(rcPrune == 0);
  CHECK_THAT(pruned, Catch::Contains("deleted " + id) && Catch::Contains("1 recording(s)"));
  CHECK_FALSE(std::filesystem::exists(crec));
  auto [rcGone, gone] =
      p.conduit({"recording", "--data-dir", p.data, "search", "recorded-marker-42"});
  CHECK_THAT(gone, Catch::Contains("no session matches"));
  auto [rcTrail, trail] = p.conduit({"audit", "--data-dir", p.data, "export"});
  CHECK_THAT(trail, Catch::Contains(R"("type":"recording.deleted")") &&
                        Catch::Contains(R"("type":"recording.held")"));
  CHECK(p.conduit({"audit", "--data-dir", p.data, "verify"}).first == 0);
}

TEST_CASE(
    "an exclusive stored password is rotated after the session, and the vault holds the new one") {
  Plant p;
  test::TestAccount shared{"conduit-rot"};
  const std::string initial = "Initial-Pass-123";
  shared.setPassword(initial);
  // The account may run chpasswd through sudo, as a real PLC gateway account would.
  const std::filesystem::path sudoers = "/etc/sudoers.d/" + shared.name();
  test::writeText(sudoers, shared.name() + " ALL=(root) NOPASSWD: /usr/sbin/chpasswd\n");
  std::filesystem::permissions(
      sudoers, std::filesystem::perms::owner_read | std::filesystem::perms::group_read);
  struct Cleanup {
    std::filesystem::path file;
    ~Cleanup() { std::filesystem::remove(file); }
  } cleanup{sudoers};
  test::SshdOptions o;
  o.allowUsers = {shared.name()};
  o.passwordAuthentication = true;
  test::Sshd target(o);
  const std::string endpoint = "127.0.0.1:" + std::to_string(target.port()) + ":" + shared.name();
  p.admin("", {"asset", "add", "plc-pw", "--owner-group", "ops", "--ssh", endpoint,
               "--ssh-host-key", target.hostKeyLine()});
  test::writeText(p.dir / "initial", initial + "\n");
  p.ok({"vault", "--data-dir", p.data, "put", "asset/plc-pw/ssh", "--kind", "password",
        "--value-file", (p.dir / "initial").string(), "--exclusive"});
  p.admin("", {"asset", "set-credential", "plc-pw", "--protocol", "ssh", "--secret",
               "asset/plc-pw/ssh", "--rotate-with", "sudo -n chpasswd"});
  p.grant("plc-pw");

  auto [rc, out, err] = p.ssh("alice+plc-pw", "id -un");
  INFO(err);
  REQUIRE(rc == 0);
  CHECK(out == shared.name() + "\n");
  auto rotated = p.broker->waitForLine("event=credential_rotat", 20s);
  INFO(p.broker->errors());
  REQUIRE(rotated.has_value());
  CHECK_THAT(*rotated, Catch::Contains("event=credential_rotated"));

  const ssh::TargetEndpoint ep{"127.0.0.1", target.port(), shared.name(), target.hostKeyLine()};
  auto old = ssh::connectTarget(ep, ssh::PasswordCredential{vault::Password::fromText(initial)});
  CHECK_FALSE(old.ok());

  // The vault holds the password the target now has (read the way the broker does).
  auto db = store::Database::open(p.dir / "data" / "conduit.db");
  REQUIRE(db.ok());
  core::SystemClock clock;
  access::VaultService vaultService(*db, clock);
  REQUIRE(vaultService.unsealWithKeyFile(p.dir / "data" / "vault" / "master.key").ok());
  auto lease = vaultService.checkout({"test", "test"}, "asset/plc-pw/ssh", "verify rotation");
  REQUIRE(lease.ok());
  const std::string now(reinterpret_cast<const char*>(lease->value().data()),
                        lease->value().size());
  CHECK(now != initial);
  auto fresh = ssh::connectTarget(ep, ssh::PasswordCredential{vault::Password::fromText(now)});
  CHECK(fresh.ok());
  auto [rcList, list] = p.conduit({"vault", "--data-dir", p.data, "list"});
  CHECK_THAT(list, Catch::Contains("asset/plc-pw/ssh") && Catch::Contains("v2"));
  CHECK_THAT(list, !Catch::Contains("rotation-pending"));
}

TEST_CASE("a pty shell sees the vendor's window size, and only allow-listed environment passes") {
  Plant p;
  p.grant();
  p.freshCode();
  const std::string ssh = "SSH_ASKPASS=" + (p.dir / "askpass.sh").string() +
                          " SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ssh -tt -p " +
                          std::to_string(p.sshPort) + " -i " + (p.dir / "vendor_key").string() +
                          " -o IdentitiesOnly=yes -o StrictHostKeyChecking=no"
                          " -o UserKnownHostsFile=/dev/null -o SendEnv=LC_CONDUIT_TEST"
                          " -o SendEnv=LD_PRELOAD alice+hmi@127.0.0.1";
  // A real terminal of 123x45 for the vendor's ssh (script allocates it).
  const std::string inner = "stty cols 123 rows 45; LC_CONDUIT_TEST=passed LD_PRELOAD=blocked " +
                            ssh + " 'stty size; echo env:[$LC_CONDUIT_TEST][$LD_PRELOAD]'";
  auto [rc, out] = test::runCommand({"script", "-qec", inner, "/dev/null"});
  INFO(out);
  INFO(p.broker->errors());
  CHECK_THAT(out, Catch::Contains("45 123"));
  CHECK_THAT(out, Catch::Contains("env:[passed][]"));
}

TEST_CASE("a target presenting another host key than the pinned one is refused") {
  Plant p;
  test::Sshd impostor(test::SshdOptions{{p.account.name()}, false, "", "", "no", "VERBOSE", {}});
  // The asset points at a server whose key is not the pinned one (the real target's).
  p.admin("", {"asset", "add", "spoofed", "--owner-group", "ops", "--ssh",
               "127.0.0.1:" + std::to_string(impostor.port()) + ":" + p.account.name(),
               "--ssh-host-key", p.target->hostKeyLine()});
  p.grant("spoofed");
  auto [rc, out, err] = p.ssh("alice+spoofed", "true");
  CHECK(rc == 255);
  CHECK_THAT(err, Catch::Contains("cannot reach spoofed") &&
                      Catch::Contains("does not match the pinned key"));
  auto [rcExport, audit] = p.conduit({"audit", "--data-dir", p.data, "export"});
  CHECK_THAT(audit, Catch::Contains(R"("type":"target.connect_failed")") &&
                        Catch::Contains("does not match the pinned key"));
}

TEST_CASE("connections that never authenticate are limited per source address") {
  Plant p;
  auto connect = [&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(p.sshPort);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{3, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  };
  // Whether the server speaks (its SSH banner) or just closes the connection.
  auto greeted = [](int fd) {
    char buf[64];
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    return n > 4 && std::string(buf, 4) == "SSH-";
  };
  std::vector<int> idle;
  for (int i = 0; i < 5; ++i) {
    idle.push_back(connect());
    CHECK(greeted(idle.back()));
  }
  const int sixth = connect();
  CHECK_FALSE(greeted(sixth));  // closed at accept
  ::close(sixth);
  ::close(idle.back());  // one of them gives up: its slot is free again
  idle.pop_back();
  std::this_thread::sleep_for(500ms);
  const int again = connect();
  CHECK(greeted(again));
  ::close(again);
  for (int fd : idle) ::close(fd);
}

TEST_CASE("the window ends mid-session: a warning first, then the session closes at the end") {
  Plant p;
  // 30 s window, 1 min warning period: the warning is due at once, the end 30 s later.
  p.grant("hmi", "30s");
  p.freshCode();
  const std::string cmd = "SSH_ASKPASS=" + (p.dir / "askpass.sh").string() +
                          " SSH_ASKPASS_REQUIRE=force DISPLAY=:0 exec ssh -T -p " +
                          std::to_string(p.sshPort) + " -i " + (p.dir / "vendor_key").string() +
                          " -o IdentitiesOnly=yes -o StrictHostKeyChecking=no"
                          " -o UserKnownHostsFile=/dev/null alice+hmi@127.0.0.1 'sleep 120'"
                          " </dev/null";
  const auto started = std::chrono::steady_clock::now();
  test::Process session({"/bin/sh", "-c", cmd});
  REQUIRE(session.waitForLine("your access window ends at", 25s).has_value());
  auto rc = session.wait(45s);
  const auto lasted = std::chrono::steady_clock::now() - started;
  REQUIRE(rc.has_value());
  CHECK(*rc != 0);
  CHECK(lasted < 45s);  // ended by the window, not by `sleep 120`
  CHECK_THAT(session.errors(), Catch::Contains("access ended") && Catch::Contains("ended at"));
}

TEST_CASE("recordings are also sealed to the auditors' key: exported without the broker's vault") {
  test::TempDir keys;
  const std::string keyFile = (keys / "auditor.key").string();
  auto [rcGen, gen] =
      test::runCommand({CONDUIT_BINARY, "recording", "auditor-keygen", "--output", keyFile});
  INFO(gen);
  REQUIRE(rcGen == 0);
  const auto p0 = gen.find("auditor_public_key = \"") + 22;
  const std::string publicKey = gen.substr(p0, 64);
  std::string policy = kPolicy;
  policy.replace(policy.find("recording = \"off\""), 17, "recording = \"required\"");
  Plant p(policy, "[recording]\nauditor_public_key = \"" + publicKey + "\"\n");
  p.grant();
  auto [rc, out, err] = p.ssh("alice+hmi", "echo for-the-auditors-7");
  REQUIRE(rc == 0);
  REQUIRE(p.broker->waitForLine("event=session_ended", 10s).has_value());
  std::this_thread::sleep_for(300ms);
  auto [rcList, list] = p.conduit({"recording", "--data-dir", p.data, "list"});
  const std::string id = list.substr(0, list.find(' '));
  // Without the vault's master key the broker's own wrapping key cannot be opened...
  std::filesystem::rename(p.dir / "data" / "vault" / "master.key", p.dir / "master.key.away");
  const std::string cast = (p.dir / "a.cast").string();
  auto [rcNoVault, noVault] = p.conduit(
      {"recording", "--data-dir", p.data, "export", id, "--format", "cast", "--output", cast});
  CHECK(rcNoVault != 0);
  // ...but the auditors' key opens the recording on its own.
  auto [rcAuditor, viaAuditor] =
      p.conduit({"recording", "--data-dir", p.data, "export", id, "--format", "cast", "--output",
                 cast, "--auditor-key", keyFile});
  INFO(viaAuditor);
  REQUIRE(rcAuditor == 0);
  CHECK_THAT(test::readText(cast), Catch::Contains("for-the-auditors-7"));
}

TEST_CASE("a recorded download is recorded once: the recording holds each delivered byte once") {
  std::string policy = kPolicy;
  policy.replace(policy.find("recording = \"off\""), 17, "recording = \"required\"");
  Plant p(policy);
  p.grant();
  constexpr std::size_t kBytes = std::size_t{32} << 20;
  auto [rc, out, err] = p.ssh("alice+hmi", "head -c " + std::to_string(kBytes) + " /dev/zero");
  INFO(err);
  REQUIRE(rc == 0);
  CHECK(out.size() == kBytes);
  REQUIRE(p.broker->waitForLine("event=session_ended", 20s).has_value());
  std::string trail;
  for (int i = 0; i < 100 && trail.find("recording.sealed") == std::string::npos; ++i) {
    std::this_thread::sleep_for(200ms);
    trail = p.conduit({"audit", "--data-dir", p.data, "export"}).second;
  }
  const auto at = trail.find("\"bytes_recorded\":");
  REQUIRE(at != std::string::npos);
  const auto recorded = std::stoull(trail.substr(at + 17));
  INFO("bytes recorded " << recorded);
  // Everything delivered, plus the session's markers and notices; never a chunk twice (bytes
  // pulled after backpressure were once recorded by the data callback and again by the refill).
  CHECK(recorded >= kBytes);
  CHECK(recorded < kBytes + 64 * 1024);
}

TEST_CASE("bulk transfers through a slow reader arrive whole in both directions") {
  // The relay's two threads hand bytes over through bounded queues: a slow side fills them,
  // the other side's bytes wait in libssh and are pulled again once there is room, many times
  // over in a transfer this size. Every byte must arrive once and in order.
  std::string policy = kPolicy;
  policy.replace(policy.find("recording = \"off\""), 17, "recording = \"required\"");
  Plant p(policy);
  p.grant();
  // 40 MiB of pseudo-random bytes that the target's account can make too (it cannot read
  // this test's directory): AES-CTR of zeros under a fixed key.
  const std::string make =
      "head -c 40M /dev/zero | openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f"
      " -iv 00000000000000000000000000000000";
  const auto big = p.dir / "bulk.bin";
  REQUIRE(test::runCommand({"sh", "-c", make + " >" + big.string()}).first == 0);
  const std::string expected =
      test::runCommand({"sh", "-c", "sha256sum <" + big.string()}).second.substr(0, 64);
  const auto out = p.dir / "bulk.out";
  // A reader that takes 1 MiB at a time with a pause: the queues fill and drain all along.
  const std::string slow =
      "(f=$(mktemp); while dd bs=1M count=1 iflag=fullblock status=none of=\"$f\" && "
      "[ -s \"$f\" ]; do cat \"$f\"; sleep 0.02; done | sha256sum; rm -f \"$f\")";

  SECTION("download to a slow vendor") {
    auto [rc, err] = p.sshPiped("alice+hmi", make, "</dev/null | " + slow + " >" + out.string());
    INFO(err);
    REQUIRE(rc == 0);
    CHECK(test::readText(out).substr(0, 64) == expected);
  }
  SECTION("upload to a slow target") {
    auto [rc, err] = p.sshPiped("alice+hmi", slow, "<" + big.string() + " >" + out.string());
    INFO(err);
    REQUIRE(rc == 0);
    CHECK(test::readText(out).substr(0, 64) == expected);
  }
}
