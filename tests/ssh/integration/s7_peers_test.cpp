// S7comm through `ssh -L` and through `conduit tunnel` (the portal's WebSocket tunnel) with real
// peers on both ends: Snap7's S7Server as the PLC (the PLC simulator S7 tools are tested
// against) and two vendor tools, nodes7 and Snap7's S7Client (tests/s7peers, installed by
// scripts/e2e-deps.sh), through `conduit serve` with the vendor's key + TOTP (or an API token
// made by signing in to the portal), an approved s7 grant and the S7 inspector; the recording's
// pcap read by tshark's s7comm dissector.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ssh/integration/plant.hpp"
#include "ssh/integration/tunnel_support.hpp"
#include "ssh/integration/web_tunnel_support.hpp"
#include "support/process.hpp"

using namespace conduit;
using namespace std::chrono_literals;

using test::grantProtocols;
using test::Plant;

namespace {

const std::filesystem::path kPeers =
    std::filesystem::path(CONDUIT_SOURCE_DIR) / "tests" / "s7peers";

// ssh for the login (the test plant's rule), s7 through tunnels (recorded). `s7Table` is the
// [rule.s7] table's body.
std::string s7Policy(const std::string& s7Table) {
  return std::string(test::kPolicy) + test::tunnelPolicy("[rule.s7]\n" + s7Table, R"("s7")");
}

void requirePeers() {
  // Nothing is skipped silently: without node or the packages this fails and says why.
  if (test::runCommand({"sh", "-c", "command -v node"}).first != 0) {
    FAIL("node is missing: install Node.js 20+ (scripts/deps.sh) for the S7 peer tests");
  }
  if (!std::filesystem::exists(kPeers / "node_modules" / "node-snap7" / "build" / "Release" /
                               "node_snap7.node") ||
      !std::filesystem::exists(kPeers / "node_modules" / "nodes7" / "package.json")) {
    FAIL(
        "tests/s7peers/node_modules is missing: run scripts/e2e-deps.sh (npm ci of node-snap7 "
        "and nodes7)");
  }
}

/// The simulated PLC (tests/s7peers/plc.cjs) on a free port.
struct SnapPlc {
  test::Process process{{"/usr/bin/env", "node", (kPeers / "plc.cjs").string()}};
  std::uint16_t port = 0;
  SnapPlc() {
    const auto listening = process.waitForLine("listening on", 20s);
    INFO(process.errors());
    REQUIRE(listening.has_value());
    port = static_cast<std::uint16_t>(std::stoi(listening->substr(listening->rfind(':') + 1)));
  }
  /// What the PLC reported so far (its events: connections, reads, writes).
  std::string events() {
    (void)process.waitForLine("\x01never\x01", 50ms);
    return process.errors();
  }
};

/// One run of tests/s7peers/client.cjs: {exit code, its JSON line (and anything else)}.
std::pair<int, std::string> s7Tool(const std::string& tool, std::uint16_t port,
                                   const std::string& op, const std::string& value = "") {
  std::vector<std::string> argv{"node", (kPeers / "client.cjs").string(), tool,
                                std::to_string(port), op};
  if (!value.empty()) argv.push_back(value);
  return test::runCommand(argv);
}

/// tshark's s7comm dissector over a recording's pcap export: one line per S7 message,
/// "DSTPORT;ROSCTR;FUNCTION;ERROR" (the PLC's port marks requests that went towards it).
std::pair<int, std::string> decodeS7(const std::string& pcap, std::uint16_t plcPort) {
  return test::runCommand(
      {"tshark", "-r", pcap, "-d", "tcp.port==" + std::to_string(plcPort) + ",tpkt", "-Y", "s7comm",
       "-T", "fields", "-E", "separator=;", "-e", "tcp.dstport", "-e", "s7comm.header.rosctr", "-e",
       "s7comm.param.func", "-e", "s7comm.param.errcod"});
}

/// A Snap7 PLC as asset press-3 (s7 endpoint), alice's approved s7 grant for it under a policy
/// with `s7Table` as its [rule.s7], and her `ssh -L local:press-3:PLCPORT` running.
struct PressTunnel {
  explicit PressTunnel(const std::string& s7Table) : p(s7Policy(s7Table)) {
    p.admin("", {"asset", "add", "press-3", "--owner-group", "ops", "--tcp",
                 "s7:127.0.0.1:" + std::to_string(plc.port)});
    grantProtocols(p, "press-3", {"s7"});
    ssh = test::tunnelSsh(p, "-L " + std::to_string(local) + ":press-3:" + std::to_string(plc.port),
                          "alice+press-3");
  }
  SnapPlc plc;
  Plant p;
  std::uint16_t local = test::freeLocalPort();
  std::unique_ptr<test::Process> ssh;
};

}  // namespace

TEST_CASE(
    "nodes7 and Snap7 read a Snap7 PLC through ssh -L on a read-only S7 grant: their writes "
    "get the CPU's protection-level error and the PLC never sees them") {
  requirePeers();
  PressTunnel w("read_only = true\n");
  auto& [plc, p, local, ssh] = w;

  for (const std::string tool : {"nodes7", "snap7"}) {
    auto [rc, out] = s7Tool(tool, local, "read");
    INFO(out);
    INFO(p.broker->errors());
    CHECK(rc == 0);
    CHECK_THAT(out, Catch::Contains(R"("ok":true,"values":[1234,0])"));
  }
  // Refused by the broker with 0xD241: nodes7 reports the write's bad quality, Snap7 the
  // CPU's own words for it.
  auto [rcNodes7, nodes7] = s7Tool("nodes7", local, "write", "77");
  INFO(nodes7);
  CHECK(rcNodes7 == 2);
  CHECK_THAT(nodes7, Catch::Contains("write quality not good"));
  auto [rcSnap7, snap7] = s7Tool("snap7", local, "write", "88");
  INFO(snap7);
  CHECK(rcSnap7 == 2);
  CHECK_THAT(snap7, Catch::Contains("Function not authorized for current protection level"));
  // Reading the CPU's state (userdata, read SZL) passes; stopping it is refused (0xD241 too,
  // as the pcap below shows).
  auto [rcStatus, status] = s7Tool("snap7", local, "status");
  INFO(status);
  CHECK(rcStatus == 0);
  CHECK_THAT(status, Catch::Contains(R"("status":"run")"));
  auto [rcStop, stop] = s7Tool("snap7", local, "stop");
  INFO(stop);
  CHECK(rcStop == 2);
  CHECK_THAT(stop, Catch::Contains("CPU : Cannot stop PLC"));  // Snap7's words for any refusal
  // Listing the blocks (userdata, block functions) passes; a block download is refused before
  // the PLC (which would refuse it too, for its own reasons, and log that it was asked).
  auto [rcBlocks, blocks] = s7Tool("snap7", local, "blocks");
  INFO(blocks);
  CHECK(rcBlocks == 0);
  CHECK_THAT(blocks, Catch::Contains(R"("db_count":1)"));
  auto [rcDownload, download] = s7Tool("snap7", local, "download");
  INFO(download);
  CHECK(rcDownload == 2);
  CHECK_THAT(download, Catch::Contains("Function not authorized for current protection level"));

  // The PLC, read past the broker: unchanged and running; its own log has the reads and
  // neither a write nor a stop.
  auto [rcDirect, direct] = s7Tool("snap7", plc.port, "read");
  INFO(direct);
  CHECK(rcDirect == 0);
  CHECK_THAT(direct, Catch::Contains(R"("values":[1234,0])"));
  const std::string events = plc.events();
  INFO(events);
  CHECK_THAT(events, Catch::Contains("Read request, Area : DB1"));
  CHECK_THAT(events, !Catch::Contains("Write request"));
  CHECK_THAT(events, !Catch::Contains("CPU Control request"));
  CHECK_THAT(events, Catch::Contains("Block list requested --> OK"));
  CHECK_THAT(events, !Catch::Contains("Block upload requested"));  // how Snap7 logs a download
  CHECK_THAT(s7Tool("snap7", plc.port, "status").second, Catch::Contains(R"("status":"run")"));

  const std::string id = test::endTunnelSession(p, *ssh);
  const std::string pcap = (p.dir / "s7.pcap").string();
  auto [rcExport, exported] = p.conduit(
      {"recording", "--data-dir", p.data, "export", id, "--format", "pcap", "--output", pcap});
  INFO(exported);
  REQUIRE(rcExport == 0);
  // ROSCTR, function and error of every S7 message tshark finds in the connection the tunnel
  // recorded (what the broker passed on each way): the reads reached the PLC and were
  // answered; no write reached it; each tool got the broker's 0xD241 answer to its write.
  auto [rcShark, decoded] = decodeS7(pcap, plc.port);
  INFO(decoded);
  CHECK(rcShark == 0);
  const std::string toPlc = std::to_string(plc.port) + ";";
  CHECK(test::count(decoded, toPlc + "1;0x04;") == 2);
  CHECK(test::count(decoded, ";3;0x04;") == 2);
  CHECK(test::count(decoded, ";1;0x05;") == 0);
  CHECK(test::count(decoded, ";3;0x05;0xd241") == 2);
  CHECK(test::count(decoded, ";1;0x29;") == 0);
  CHECK(test::count(decoded, ";3;0x29;0xd241") == 1);
  CHECK(test::count(decoded, ";1;0x1a;") == 0);  // request download
  CHECK(test::count(decoded, ";3;0x1a;0xd241") == 1);
}

TEST_CASE("nodes7 and Snap7 write a Snap7 PLC through ssh -L on a writable S7 grant") {
  requirePeers();
  PressTunnel w("read_only = false\n");
  auto& [plc, p, local, ssh] = w;

  auto [rcNodes7, nodes7] = s7Tool("nodes7", local, "write", "77");
  INFO(nodes7);
  INFO(p.broker->errors());
  CHECK(rcNodes7 == 0);
  auto [rcAfter, after] = s7Tool("snap7", plc.port, "read");  // past the broker
  INFO(after);
  CHECK(rcAfter == 0);
  CHECK_THAT(after, Catch::Contains(R"("values":[1234,77])"));
  auto [rcSnap7, snap7] = s7Tool("snap7", local, "write", "88");
  INFO(snap7);
  CHECK(rcSnap7 == 0);
  auto [rcRead, read] = s7Tool("nodes7", local, "read");
  INFO(read);
  CHECK(rcRead == 0);
  CHECK_THAT(read, Catch::Contains(R"("ok":true,"values":[1234,88])"));
  CHECK_THAT(plc.events(), Catch::Contains("Write request, Area : DB1"));
  // Writable, but without a `functions` list: stopping the CPU still needs it listed.
  auto [rcStop, stop] = s7Tool("snap7", local, "stop");
  INFO(stop);
  CHECK(rcStop == 2);
  CHECK_THAT(stop, Catch::Contains("CPU : Cannot stop PLC"));
  CHECK_THAT(s7Tool("snap7", plc.port, "status").second, Catch::Contains(R"("status":"run")"));
  CHECK_THAT(plc.events(), !Catch::Contains("CPU Control request"));  // it never reached the PLC
  CHECK_THAT(s7Tool("snap7", local, "status").second, Catch::Contains(R"("status":"run")"));
}

TEST_CASE(
    "Snap7 stops and restarts a Snap7 PLC through ssh -L where the grant lists 0x29 and 0x28") {
  requirePeers();
  PressTunnel w("read_only = false\nfunctions = [0x04, 0x05, 0x28, 0x29]\n");
  auto& [plc, p, local, ssh] = w;
  INFO(p.broker->errors());
  auto [rcStop, stop] = s7Tool("snap7", local, "stop");
  INFO(stop);
  CHECK(rcStop == 0);
  CHECK_THAT(s7Tool("snap7", plc.port, "status").second, Catch::Contains(R"("status":"stop")"));
  auto [rcStart, start] = s7Tool("snap7", local, "start");
  INFO(start);
  CHECK(rcStart == 0);
  CHECK_THAT(s7Tool("snap7", local, "status").second, Catch::Contains(R"("status":"run")"));
  const std::string events = plc.events();
  CHECK_THAT(events, Catch::Contains("CPU Control request : STOP --> OK") &&
                         Catch::Contains("CPU Control request : Warm START --> OK"));
}

TEST_CASE(
    "nodes7 and Snap7 through conduit tunnel on a read-only S7 grant: reads pass, writes get the "
    "protection-level error and never reach the PLC") {
  // For vendors without SSH: the same inspector behind the portal's WebSocket tunnel. Each
  // tool's connection is a session of its own; the asset takes one at a time (the default), so
  // each tool starts once the previous connection has closed.
  requirePeers();
  SnapPlc plc;
  Plant p(s7Policy("read_only = true\n"));
  const std::uint16_t portal = test::portalPort(p);
  p.admin("", {"asset", "add", "press-3", "--owner-group", "ops", "--tcp",
               "s7:127.0.0.1:" + std::to_string(plc.port)});
  grantProtocols(p, "press-3", {"s7"});
  auto t = test::startTunnel(
      p, portal,
      test::tokenFile(p, portal, "alice", test::signIn(portal, "alice", p.totpSeed), "vendor"),
      "press-3", plc.port);
  // Before the next tool: every connection the tunnel started has ended (a tool may open more
  // than one; an ended one says "closed:" or "refused:").
  const auto run = [&](const std::string& tool, const std::string& op,
                       const std::string& value = "") {
    auto result = s7Tool(tool, t.localPort, op, value);
    for (int i = 0; i < 100; ++i) {
      (void)t.process->waitForLine("\x01never\x01", 100ms);
      const std::string& said = t.process->errors();
      if (test::count(said, ": closed: ") + test::count(said, ": refused: ") >=
          test::count(said, ": session wt-")) {
        break;
      }
    }
    return result;
  };
  for (const std::string tool : {"nodes7", "snap7"}) {
    auto [rc, out] = run(tool, "read");
    INFO(out);
    INFO(t.process->errors());
    CHECK(rc == 0);
    CHECK_THAT(out, Catch::Contains(R"("ok":true,"values":[1234,0])"));
  }
  auto [rcNodes7, nodes7] = run("nodes7", "write", "77");
  INFO(nodes7);
  CHECK(rcNodes7 == 2);
  CHECK_THAT(nodes7, Catch::Contains("write quality not good"));
  auto [rcSnap7, snap7] = run("snap7", "write", "88");
  INFO(snap7);
  CHECK(rcSnap7 == 2);
  CHECK_THAT(snap7, Catch::Contains("Function not authorized for current protection level"));
  auto [rcStop, stop] = run("snap7", "stop");
  INFO(stop);
  CHECK(rcStop == 2);

  // Past the broker: DB1 unchanged, the CPU running, and the PLC's log without a write or stop.
  CHECK_THAT(s7Tool("snap7", plc.port, "read").second, Catch::Contains(R"("values":[1234,0])"));
  CHECK_THAT(s7Tool("snap7", plc.port, "status").second, Catch::Contains(R"("status":"run")"));
  const std::string events = plc.events();
  INFO(events);
  CHECK(test::count(events, "Read request, Area : DB1") >= 2);
  CHECK_THAT(events, !Catch::Contains("Write request"));
  CHECK_THAT(events, !Catch::Contains("CPU Control request"));

  // Every connection's recording (one session each) as pcap, decoded by tshark's s7comm
  // dissector: the two write jobs and the stop met the broker's 0xD241 answer, and none of
  // them went towards the PLC.
  std::string decoded;
  for (int n = 1; n <= 5; ++n) {
    const std::string id = test::sessionIdOf(*t.process, n);
    REQUIRE_FALSE(id.empty());
    test::waitSealed(p, id);
  }
  const auto [rcList, listed] = p.conduit({"recording", "--data-dir", p.data, "list"});
  REQUIRE(rcList == 0);
  for (const auto& line : test::lines(listed)) {
    if (line.rfind("wt-", 0) != 0) continue;
    const std::string id = line.substr(0, line.find(' '));
    const std::string pcap = (p.dir / (id + ".pcap")).string();
    auto [rcExport, exported] = p.conduit(
        {"recording", "--data-dir", p.data, "export", id, "--format", "pcap", "--output", pcap});
    INFO(exported);
    REQUIRE(rcExport == 0);
    auto [rcShark, out] = decodeS7(pcap, plc.port);
    CHECK(rcShark == 0);
    decoded += out;
  }
  INFO(decoded);
  const std::string toPlc = std::to_string(plc.port) + ";";
  CHECK(test::count(decoded, toPlc + "1;0x04;") == 2);  // the two reads reached the PLC
  CHECK(test::count(decoded, ";3;0x05;0xd241") == 2);
  CHECK(test::count(decoded, ";3;0x29;0xd241") == 1);
  CHECK(test::count(decoded, toPlc + "1;0x05;") == 0);
  CHECK(test::count(decoded, toPlc + "1;0x29;") == 0);
}
