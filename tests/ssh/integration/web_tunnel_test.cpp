// The portal's WebSocket tunnel end to end, with real peers: `conduit tunnel` (the vendor's
// client, with an API token made by signing in to the portal over HTTPS) -> `conduit serve`'s
// portal -> a TCP echo server or a libmodbus PLC, driven by mbpoll; grants from the CLI
// workflow; refusals, a read-only Modbus grant, revocation, a kill from the live sessions list,
// and the recording's pcap export read by tshark.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "conduit/app/data_dir.hpp"
#include "conduit/demo_plc/demo_plc.hpp"
#include "ssh/integration/plant.hpp"
#include "ssh/integration/tunnel_support.hpp"
#include "ssh/integration/web_tunnel_support.hpp"
#include "support/process.hpp"
#include "support/tls_client.hpp"

using namespace conduit;
using namespace std::chrono_literals;

using test::auditOnce;
using test::call;
using test::connectLocal;
using test::count;
using test::EchoServer;
using test::grantProtocols;
using test::HttpAnswer;
using test::jsonString;
using test::Plant;
using test::PortalLogin;
using test::portalPort;
using test::readAll;
using test::sessionIdOf;
using test::signIn;
using test::startTunnel;
using test::tokenFile;
using test::tunnelPolicy;
using test::waitSealed;

namespace {

// ---- the portal over HTTPS ---------------------------------------------------------------

std::string tokenIn(const std::string& file) {
  std::string t = test::readText(file);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

/// A WebSocket upgrade of /api/v1/tunnel made by hand; returns the portal's HTTP answer.
HttpAnswer upgrade(std::uint16_t port, const std::string& query, std::vector<std::string> headers) {
  headers.insert(headers.end(), {"Upgrade: websocket", "Sec-WebSocket-Version: 13",
                                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="});
  // "Connection: close" from call() would not be an upgrade: replace it.
  test::TlsClient tls;
  REQUIRE(tls.connect(port));
  std::string req = "GET /api/v1/tunnel" + query +
                    " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: Upgrade\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  req += "\r\n";
  REQUIRE(tls.send(req));
  HttpAnswer a;
  a.raw = tls.readResponse();
  a.status = test::statusOf(a.raw);
  a.body = test::bodyOf(a.raw);
  return a;
}

// ---- conduit tunnel ----------------------------------------------------------------------

std::pair<int, std::string> mbpoll(std::uint16_t port, std::vector<std::string> args) {
  // -o 5: connecting through the portal adds a TLS and a WebSocket handshake before the first
  // request can reach the PLC (mbpoll's default timeout is 1 s).
  std::vector<std::string> argv{"mbpoll", "-m", "tcp", "-p", std::to_string(port), "-o", "5"};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::runCommand(argv);
}

}  // namespace

TEST_CASE("conduit tunnel relays 3 MiB each way intact and carries mbpoll, and its pcap decodes") {
  EchoServer echo;
  auto plc = demo_plc::DemoPlc::start({});
  REQUIRE(plc.ok());
  const std::uint16_t plcPort = (*plc)->port();
  Plant p(tunnelPolicy());
  const std::uint16_t portal = portalPort(p);
  p.admin("", {"asset", "add", "echo-box", "--owner-group", "ops", "--tcp",
               "tcp:127.0.0.1:" + std::to_string(echo.port())});
  p.admin("", {"asset", "add", "plc-17", "--owner-group", "ops", "--tcp",
               "modbus:127.0.0.1:" + std::to_string(plcPort)});
  grantProtocols(p, "echo-box", {"tcp"});
  grantProtocols(p, "plc-17", {"modbus"});
  const std::string token =
      tokenFile(p, portal, "alice", signIn(portal, "alice", p.totpSeed), "vendor");

  SECTION("bulk bytes both ways, through the flow control, and EOF") {
    auto t = startTunnel(p, portal, token, "echo-box", echo.port());
    const int fd = connectLocal(t.localPort);
    REQUIRE(fd >= 0);
    // Three windows' worth: the relay must stop and resume both ways without losing a byte.
    const std::string payload = test::randomBytes(3 * 1024 * 1024, 7);
    const std::string back = test::echoThrough(fd, payload);
    ::close(fd);
    INFO(t.process->errors());
    INFO(p.broker->errors());
    CHECK(back.size() == payload.size());
    CHECK(test::sha256(back) == test::sha256(payload));
    CHECK(echo.accepted() == 1);
    const std::string id = sessionIdOf(*t.process);
    REQUIRE(!id.empty());
    const std::string trail = auditOnce(p, "\"session:" + id + "\"");
    CHECK_THAT(trail, Catch::Contains("tunnel.opened") && Catch::Contains("tunnel.closed"));
    CHECK_THAT(trail, Catch::Contains("3145728"));  // bytes each way, in tunnel.closed
    CHECK_THAT(trail, Catch::Contains("session.started"));
  }

  SECTION("a tool that resets its connection: conduit tunnel says the connection closed") {
    auto t = startTunnel(p, portal, token, "echo-box", echo.port());
    const int fd = connectLocal(t.localPort);
    REQUIRE(fd >= 0);
    REQUIRE(::send(fd, "ping", 4, MSG_NOSIGNAL) == 4);
    char back[4] = {};
    std::size_t got = 0;
    while (got < sizeof back) {
      const auto n = ::recv(fd, back + got, sizeof back - got, 0);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    CHECK(std::string(back, got) == "ping");  // the tunnel is up, no EOF sent
    const linger reset{1, 0};                 // close with RST, as a killed tool's connection ends
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::close(fd);
    // Every connection that said "session" says how it ended, also when this side ended it.
    const auto line = t.process->waitForLine(": closed: the local connection", 5s);
    INFO(t.process->errors());
    CHECK(line.has_value());
  }

  SECTION("mbpoll reads holding registers, and the recording's pcap decodes as Modbus/TCP") {
    auto t = startTunnel(p, portal, token, "plc-17", plcPort);
    auto [rc, out] = mbpoll(t.localPort, {"-t", "4", "-r", "1", "-c", "4", "127.0.0.1", "-1"});
    INFO(out);
    INFO(t.process->errors());
    INFO(p.broker->errors());
    CHECK(rc == 0);
    CHECK_THAT(out, Catch::Contains("[1]: \t1000") && Catch::Contains("[4]: \t1003"));
    const std::string id = sessionIdOf(*t.process);
    REQUIRE(!id.empty());
    CHECK(id.rfind("wt-", 0) == 0);
    waitSealed(p, id);
    auto [rcShark, decoded] = test::decodeModbusPcap(p, id, "web-tunnel.pcap", plcPort);
    INFO(test::linesWith(decoded, {"odbus", "Register", "Port"}));
    CHECK(rcShark == 0);
    CHECK_THAT(decoded, Catch::Contains("Modbus/TCP"));
    CHECK_THAT(decoded, Catch::Contains("Read Holding Registers"));
    CHECK_THAT(decoded, Catch::Contains("Register 0 (UINT16): 1000"));
    CHECK_THAT(decoded, Catch::Contains("Register 3 (UINT16): 1003"));
    CHECK_THAT(decoded, Catch::Contains("Dst Port: " + std::to_string(plcPort)));
    // The client side is the WebSocket's own connection, port and all.
    CHECK(decoded.find("Src Port: 0,") == std::string::npos);
    CHECK(decoded.find("Dst Port: 0,") == std::string::npos);
    // It was the live registry's session, with the vendor and the asset.
    const std::string trail = auditOnce(p, "\"session:" + id + "\"");
    CHECK_THAT(trail, Catch::Contains("session.started") && Catch::Contains("recording.sealed"));
  }
}

TEST_CASE("a read-only Modbus grant refuses an mbpoll write through conduit tunnel") {
  auto plc = demo_plc::DemoPlc::start({});
  REQUIRE(plc.ok());
  const std::uint16_t plcPort = (*plc)->port();
  Plant p(tunnelPolicy("[rule.modbus]\nread_only = true\n"));
  const std::uint16_t portal = portalPort(p);
  p.admin("", {"asset", "add", "plc-17", "--owner-group", "ops", "--tcp",
               "modbus:127.0.0.1:" + std::to_string(plcPort)});
  grantProtocols(p, "plc-17", {"modbus"});
  auto t = startTunnel(p, portal,
                       tokenFile(p, portal, "alice", signIn(portal, "alice", p.totpSeed), "vendor"),
                       "plc-17", plcPort);

  auto [rcRead, read] = mbpoll(t.localPort, {"-t", "4", "-r", "2", "-c", "1", "127.0.0.1", "-1"});
  INFO(read);
  INFO(t.process->errors());
  CHECK(rcRead == 0);
  CHECK_THAT(read, Catch::Contains("[2]: \t1001"));
  // Each connection is a session holding one of the asset's connection slots (one by default):
  // the next mbpoll connects once the first one's tunnel has closed.
  REQUIRE(t.process->waitForLine(": closed: ", 10s).has_value());
  const auto requestsBefore = (*plc)->requests();
  auto [rcWrite, written] = mbpoll(t.localPort, {"-t", "4", "-r", "2", "127.0.0.1", "4242"});
  t.process->waitForLine("no such line", 300ms);
  p.broker->waitForLine("no such line", 300ms);
  INFO(written);
  INFO(t.process->errors());
  INFO(p.broker->errors());
  CHECK(rcWrite != 0);
  CHECK_THAT(written, Catch::Contains("Illegal function"));
  // The PLC never saw the write.
  CHECK((*plc)->holdingRegister(1) == 1001);
  CHECK((*plc)->requests() == requestsBefore);
}

TEST_CASE("conduit tunnel shows the portal's refusals and the portal refuses bad upgrades") {
  EchoServer echo;
  Plant p(tunnelPolicy());
  const std::uint16_t portal = portalPort(p);
  p.admin("", {"asset", "add", "echo-box", "--owner-group", "ops", "--tcp",
               "tcp:127.0.0.1:" + std::to_string(echo.port())});
  p.admin("", {"asset", "add", "ungranted", "--owner-group", "ops", "--tcp",
               "tcp:127.0.0.1:" + std::to_string(echo.port())});
  grantProtocols(p, "echo-box", {"tcp"});
  // One sign-in per user and test: a TOTP code is accepted once.
  const PortalLogin aliceLogin = signIn(portal, "alice", p.totpSeed);
  const std::string token = tokenFile(p, portal, "alice", aliceLogin, "vendor");
  const std::string erinToken =
      tokenFile(p, portal, "erin", signIn(portal, "erin", test::enrolTotp(p, "erin")), "engineer");

  SECTION("refused tunnels: no grant, not an asset, not an endpoint's port") {
    struct Case {
      std::string asset;
      std::uint16_t port;
      std::string reason;
    };
    const std::vector<Case> cases{
        {"ungranted", echo.port(),
         "tunnel to ungranted:" + std::to_string(echo.port()) + " refused: "},
        {"nope", 502, "nope is not an asset"},
        {"echo-box", 9, "echo-box has no tunnel endpoint on port 9"}};
    for (const auto& c : cases) {
      auto t = startTunnel(p, portal, token, c.asset, c.port);
      const int fd = connectLocal(t.localPort);
      REQUIRE(fd >= 0);
      ::send(fd, "ping", 4, MSG_NOSIGNAL);
      CHECK(readAll(fd).empty());  // closed at once, nothing relayed
      ::close(fd);
      const auto line = t.process->waitForLine("refused: ", 10s);
      INFO(t.process->errors());
      REQUIRE(line.has_value());
      CHECK_THAT(*line, Catch::Contains(c.reason));
      t.process->signal(SIGTERM);
      CHECK(t.process->wait(5s) == 0);
    }
    CHECK(echo.accepted() == 0);  // nothing refused reached an endpoint
    const std::string trail = auditOnce(p, "echo-box has no tunnel endpoint");
    CHECK(count(trail, "\"type\":\"tunnel.refused\"") == 3);
    CHECK_THAT(trail, Catch::Contains("nope is not an asset"));
  }

  SECTION("a token of another role: conduit tunnel says so and exits") {
    const std::string cmd = std::string("exec ") + CONDUIT_BINARY +
                            " tunnel --portal https://127.0.0.1:" + std::to_string(portal) +
                            " --token-file " + erinToken + " --asset echo-box --port " +
                            std::to_string(echo.port()) + " --ca-file " +
                            app::DataDirLayout{p.data}.tlsCertificate().string() + " 1>&2";
    test::Process t({"/bin/sh", "-c", cmd});
    const auto rc = t.wait(20s);
    INFO(t.errors());
    CHECK(rc == 1);
    CHECK_THAT(t.errors(), Catch::Contains("does not carry the vendor role"));
    CHECK_THAT(t.errors(), !Catch::Contains("listening on"));
    CHECK_THAT(t.errors(), !Catch::Contains(tokenIn(erinToken)));
  }

  SECTION("the portal's certificate is checked; an unreachable portal and bad arguments fail") {
    // Without --ca-file the self-signed certificate is not trusted.
    auto [rcTrust, trust] = test::runCommand(
        {CONDUIT_BINARY, "tunnel", "--portal", "https://127.0.0.1:" + std::to_string(portal),
         "--token-file", token, "--asset", "echo-box", "--port", std::to_string(echo.port())});
    CHECK(rcTrust == 1);
    CHECK_THAT(trust, Catch::Contains("certificate verify failed"));
    CHECK_THAT(trust, !Catch::Contains(tokenIn(token)));
    // The certificate is for 127.0.0.1 and localhost: another name does not match it.
    auto [rcName, name] = test::runCommand(
        {CONDUIT_BINARY, "tunnel", "--portal", "https://127.0.0.2:" + std::to_string(portal),
         "--token-file", token, "--asset", "echo-box", "--port", std::to_string(echo.port()),
         "--ca-file", app::DataDirLayout{p.data}.tlsCertificate().string()});
    CHECK(rcName == 1);
    CHECK_THAT(name, Catch::Contains("cannot reach the portal"));
    auto [rcDown, down] =
        test::runCommand({CONDUIT_BINARY, "tunnel", "--portal", "https://127.0.0.1:1",
                          "--token-file", token, "--asset", "echo-box", "--port", "502"});
    CHECK(rcDown == 1);
    CHECK_THAT(down, Catch::Contains("cannot reach the portal at https://127.0.0.1:1"));
    auto [rcUrl, url] =
        test::runCommand({CONDUIT_BINARY, "tunnel", "--portal", "http://127.0.0.1:1",
                          "--token-file", token, "--asset", "echo-box", "--port", "502"});
    CHECK(rcUrl == 2);
    CHECK_THAT(url, Catch::Contains("--portal must be https://HOST[:PORT]"));
    auto [rcPort, badPort] =
        test::runCommand({CONDUIT_BINARY, "tunnel", "--portal", "https://127.0.0.1:1",
                          "--token-file", token, "--asset", "echo-box", "--port", "70000"});
    CHECK(rcPort == 2);
    CHECK_THAT(badPort, Catch::Contains("--port must be 1-65535"));
    test::writeText(p.dir / "empty.token", "\n");
    auto [rcTok, tok] = test::runCommand(
        {CONDUIT_BINARY, "tunnel", "--portal", "https://127.0.0.1:1", "--token-file",
         (p.dir / "empty.token").string(), "--asset", "echo-box", "--port", "502"});
    CHECK(rcTok == 2);
    CHECK_THAT(tok, Catch::Contains("does not hold an API token"));
  }

  SECTION("bad upgrades are refused before any tunnel is tried") {
    const std::string q = "?asset=echo-box&port=" + std::to_string(echo.port());
    const std::string bearer = "Authorization: Bearer " + tokenIn(token);
    CHECK(upgrade(portal, q, {}).status == 401);  // no token, no cookie
    CHECK(upgrade(portal, q, {"Authorization: Bearer ct_not-a-token"}).status == 401);
    const auto engineer = upgrade(portal, q, {"Authorization: Bearer " + tokenIn(erinToken)});
    CHECK(engineer.status == 403);
    CHECK(upgrade(portal, "?port=502", {bearer}).status == 400);
    CHECK(upgrade(portal, "?asset=echo-box", {bearer}).status == 400);
    CHECK(upgrade(portal, "?asset=echo-box&port=70000", {bearer}).status == 400);
    CHECK(upgrade(portal, "?asset=echo-box&port=5x", {bearer}).status == 400);
    // The session cookie works only from the portal's own pages (Origin), like the terminal.
    const auto crossSite = upgrade(
        portal, q,
        {"Cookie: __Host-conduit-session=" + aliceLogin.cookie, "Origin: https://evil.example"});
    CHECK(crossSite.status == 403);
    CHECK(echo.accepted() == 0);
  }
}

TEST_CASE("a kill from the live sessions list and a revocation end web tunnels within 2 s") {
  auto plc = demo_plc::DemoPlc::start({});
  REQUIRE(plc.ok());
  Plant p(tunnelPolicy());
  const std::uint16_t portal = portalPort(p);
  p.admin("", {"asset", "add", "plc-17", "--owner-group", "ops", "--tcp",
               "modbus:127.0.0.1:" + std::to_string((*plc)->port())});
  grantProtocols(p, "plc-17", {"modbus"});
  const std::string token =
      tokenFile(p, portal, "alice", signIn(portal, "alice", p.totpSeed), "vendor");
  const std::string erin =
      "Authorization: Bearer " +
      tokenIn(tokenFile(p, portal, "erin", signIn(portal, "erin", test::enrolTotp(p, "erin")),
                        "engineer"));
  auto t = startTunnel(p, portal, token, "plc-17", (*plc)->port());
  // The tunnel is live end to end.
  auto openAndRead = [&]() {
    const int fd = connectLocal(t.localPort);
    REQUIRE(fd >= 0);
    test::checkModbusAnswers(fd);
    return fd;
  };

  // Revoking the grant ends the open tunnel.
  const int first = openAndRead();
  const auto revokedAt = std::chrono::steady_clock::now();
  p.admin("erin", {"revoke", "1", "--reason", "vendor left site"});
  CHECK(readAll(first).empty());  // the broker closed the tunnel
  CHECK(std::chrono::steady_clock::now() - revokedAt < 3s);
  ::close(first);
  const auto revoked = t.process->waitForLine("closed: access ended", 5s);
  INFO(t.process->errors());
  REQUIRE(revoked.has_value());
  CHECK_THAT(*revoked, Catch::Contains("revoked"));

  // With a new grant, the engineer sees the next tunnel in the live sessions list and kills it.
  grantProtocols(p, "plc-17", {"modbus"});
  const int second = openAndRead();
  const std::string id = sessionIdOf(*t.process, 2);
  REQUIRE(!id.empty());
  const auto live = call(portal, "GET", "/api/v1/sessions", {erin});
  INFO(live.raw);
  CHECK(live.status == 200);
  CHECK_THAT(live.body,
             Catch::Contains("\"id\":\"" + id + "\"") && Catch::Contains("\"asset\":\"plc-17\""));
  const auto killedAt = std::chrono::steady_clock::now();
  const auto kill = call(portal, "POST", "/api/v1/sessions/" + id + "/kill", {erin},
                         R"({"reason":"vendor must stop now"})");
  INFO(kill.raw);
  CHECK(kill.status == 200);
  CHECK(readAll(second).empty());
  CHECK(std::chrono::steady_clock::now() - killedAt < 3s);
  ::close(second);
  const auto killed = t.process->waitForLine("closed: access ended", 5s);
  // (The reason names one of alice's grants for plc-17: the access check may report the
  // revoked one rather than the one the kill suspended.)
  REQUIRE(killed.has_value());
  const std::string trail = auditOnce(p, "vendor must stop now");
  CHECK(count(trail, "\"type\":\"tunnel.closed\"") == 2);
  CHECK(count(trail, "\"type\":\"session.ended\"") == 2);
  CHECK_THAT(trail, Catch::Contains("vendor left site"));
}

TEST_CASE("a quiet web tunnel closes after ssh.tunnel_idle_timeout_seconds") {
  EchoServer echo;
  Plant p(tunnelPolicy(), "", true, "tunnel_idle_timeout_seconds = 2\n");
  const std::uint16_t portal = portalPort(p);
  p.admin("", {"asset", "add", "echo-box", "--owner-group", "ops", "--tcp",
               "tcp:127.0.0.1:" + std::to_string(echo.port())});
  grantProtocols(p, "echo-box", {"tcp"});
  auto t = startTunnel(p, portal,
                       tokenFile(p, portal, "alice", signIn(portal, "alice", p.totpSeed), "vendor"),
                       "echo-box", echo.port());
  const int fd = connectLocal(t.localPort);
  REQUIRE(fd >= 0);
  ::send(fd, "one", 3, MSG_NOSIGNAL);
  char buf[16];
  REQUIRE(::recv(fd, buf, sizeof buf, 0) == 3);
  const auto quiet = std::chrono::steady_clock::now();
  CHECK(readAll(fd).empty());
  const auto idled = std::chrono::steady_clock::now() - quiet;
  ::close(fd);
  CHECK(idled > 1500ms);
  CHECK(idled < 6s);
  const auto closed = t.process->waitForLine("closed: ", 5s);
  INFO(t.process->errors());
  REQUIRE(closed.has_value());
  CHECK_THAT(*closed, Catch::Contains("idle for 2 s"));
  CHECK_THAT(auditOnce(p, "idle for 2 s"), Catch::Contains("\"type\":\"tunnel.closed\""));
}

TEST_CASE("conduit tunnel: a tool that reconnects at once gets a one-connection asset every time") {
  EchoServer echo;
  Plant p(tunnelPolicy());
  const std::uint16_t portal = portalPort(p);
  p.admin("", {"asset", "add", "echo-box", "--owner-group", "ops", "--max-sessions", "1", "--tcp",
               "tcp:127.0.0.1:" + std::to_string(echo.port())});
  grantProtocols(p, "echo-box", {"tcp"});
  auto t = startTunnel(p, portal,
                       tokenFile(p, portal, "alice", signIn(portal, "alice", p.totpSeed), "vendor"),
                       "echo-box", echo.port());
  constexpr int kRounds = 15;
  const std::string refused = test::reconnectRounds(t.localPort, kRounds);
  t.process->waitForLine("no such line", 100ms);
  INFO("rounds without an answer:" << refused);
  INFO(t.process->errors());
  CHECK(refused.empty());
}

TEST_CASE("revoking the API token ends the web tunnels it opened within 3 s") {
  EchoServer echo;
  Plant p(tunnelPolicy());
  const std::uint16_t portal = portalPort(p);
  p.admin("", {"asset", "add", "gw-1", "--owner-group", "ops", "--tcp",
               "tcp:127.0.0.1:" + std::to_string(echo.port())});
  grantProtocols(p, "gw-1", {"tcp"});
  const auto login = signIn(portal, "alice", p.totpSeed);
  const auto made = call(portal, "POST", "/api/v1/tokens", login.headers(),
                         R"({"name":"laptop","roles":["vendor"]})");
  INFO(made.raw);
  REQUIRE(made.status == 201);
  const auto file = p.dir / "alice.token";
  test::writeText(file, jsonString(made.body, "token") + "\n");
  std::filesystem::permissions(
      file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto t = startTunnel(p, portal, file.string(), "gw-1", echo.port());
  const int fd = connectLocal(t.localPort);
  REQUIRE(fd >= 0);
  // One round trip, the connection kept open (no half-close): the tunnel is live.
  const std::string ping = "before the revocation";
  REQUIRE(::send(fd, ping.data(), ping.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(ping.size()));
  std::string pong;
  while (pong.size() < ping.size()) {
    char buf[64];
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    REQUIRE(n > 0);
    pong.append(buf, static_cast<std::size_t>(n));
  }
  CHECK(pong == ping);

  boost::system::error_code ec;
  const auto id = boost::json::parse(made.body, ec).as_object().at("id").as_int64();
  const auto revokedAt = std::chrono::steady_clock::now();
  const auto gone = call(portal, "DELETE", "/api/v1/tokens/" + std::to_string(id), login.headers());
  INFO(gone.raw);
  REQUIRE(gone.status == 204);
  CHECK(readAll(fd).empty());  // the broker closed the tunnel
  CHECK(std::chrono::steady_clock::now() - revokedAt < 3s);
  ::close(fd);
  const auto closed = t.process->waitForLine("revoked", 5s);
  INFO(t.process->errors());
  CHECK(closed.has_value());
  const std::string trail = auditOnce(p, "\"type\":\"tunnel.closed\"");
  CHECK_THAT(test::linesWith(trail, {"tunnel.closed"}),
             Catch::Contains("the API token was revoked"));
}
