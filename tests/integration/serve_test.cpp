// Drives the real `conduit` binary: init, serve on port 0, HTTPS requests, signals.
#include <openssl/ssl.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <memory>
#include <thread>

#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tls_client.hpp"

using conduit::test::Process;
using conduit::test::TempDir;
using namespace std::chrono_literals;

namespace {

struct RunningServer {
  std::unique_ptr<Process> process;
  std::uint16_t port = 0;
};

std::string configFor(const TempDir& dir, const std::string& extraPortal = "") {
  // The SSH gateway on port 0 too: parallel tests must not fight over its default port.
  return "data_dir = \"" + (dir / "data").string() + "\"\n[ssh]\nport = 0\n[portal]\nport = 0\n" +
         "shutdown_grace_seconds = 5\n" + extraPortal;
}

void initData(const TempDir& dir) {
  auto [rc, out] =
      conduit::test::runCommand({CONDUIT_BINARY, "init", "--data-dir", (dir / "data").string()});
  INFO(out);
  REQUIRE(rc == 0);
}

RunningServer startServer(const TempDir& dir, const std::string& extraPortal = "") {
  conduit::test::writeText(dir / "conduit.toml", configFor(dir, extraPortal));
  RunningServer s;
  s.process = std::make_unique<Process>(std::vector<std::string>{
      CONDUIT_BINARY, "serve", "--config", (dir / "conduit.toml").string()});
  auto line = s.process->waitForLine("event=portal_listening", 20s);
  INFO(s.process->errors());
  REQUIRE(line.has_value());
  const auto p = line->find("port=");
  REQUIRE(p != std::string::npos);
  s.port = static_cast<std::uint16_t>(std::stoi(line->substr(p + 5)));
  REQUIRE(s.port != 0);
  return s;
}

bool hasHeader(const std::string& response, const std::string& header) {
  return response.find("\r\n" + header) != std::string::npos;
}

}  // namespace

TEST_CASE("serve answers /healthz over TLS with the state of database and keys") {
  TempDir dir;
  initData(dir);
  auto server = startServer(dir);

  const auto health = conduit::test::httpsGet(server.port, "/healthz");
  REQUIRE(conduit::test::statusOf(health) == 200);
  const auto body = conduit::test::bodyOf(health);
  CHECK_THAT(body, Catch::Contains(R"("status":"ok")"));
  CHECK_THAT(body, Catch::Contains(R"("database":{"ok":true,"detail":"schema version)"));
  CHECK_THAT(body, Catch::Contains(R"("ssh_host_key":{"ok":true)"));
  CHECK_THAT(body, Catch::Contains(R"("vault":{"ok":true)"));
  CHECK_THAT(body, Catch::Contains(R"("credential_rotation":{"ok":true,"detail":"ok"})"));
  CHECK(hasHeader(health, "Strict-Transport-Security: max-age="));
  CHECK(hasHeader(health, "Content-Security-Policy: default-src 'self'"));
  CHECK(hasHeader(health, "X-Frame-Options: DENY"));
  CHECK(hasHeader(health, "Cache-Control: no-store"));

  SECTION("/metrics is Prometheus text and counts requests") {
    const auto metrics = conduit::test::httpsGet(server.port, "/metrics");
    REQUIRE(conduit::test::statusOf(metrics) == 200);
    CHECK_THAT(metrics, Catch::Contains("Content-Type: text/plain; version=0.0.4"));
    CHECK_THAT(metrics, Catch::Contains("conduit_http_requests_total{code=\"2xx\"} 1"));
  }
  SECTION("unknown paths are JSON 404") {
    const auto r = conduit::test::httpsGet(server.port, "/nope");
    CHECK(conduit::test::statusOf(r) == 404);
    CHECK(conduit::test::bodyOf(r) == R"({"error":"not_found","message":"no such resource"})");
  }
  SECTION("a body over the limit is refused with 413") {
    conduit::test::TlsClient c;
    REQUIRE(c.connect(server.port));
    REQUIRE(c.send("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n"));
    const auto r = c.readResponse();
    CHECK(conduit::test::statusOf(r) == 413);
  }
  SECTION("malformed HTTP gets 400") {
    conduit::test::TlsClient c;
    REQUIRE(c.connect(server.port));
    REQUIRE(c.send("THIS IS NOT HTTP\r\n\r\n"));
    CHECK(conduit::test::statusOf(c.readResponse()) == 400);
  }
  SECTION("TLS 1.1 is refused, 1.2 and 1.3 are accepted") {
    conduit::test::TlsClient old;
    CHECK_FALSE(old.connect(server.port, TLS1_1_VERSION, TLS1_1_VERSION));
    conduit::test::TlsClient v12;
    REQUIRE(v12.connect(server.port, TLS1_2_VERSION, TLS1_2_VERSION));
    CHECK(v12.protocol() == "TLSv1.2");
    conduit::test::TlsClient v13;
    REQUIRE(v13.connect(server.port, TLS1_3_VERSION, TLS1_3_VERSION));
    CHECK(v13.protocol() == "TLSv1.3");
  }
  SECTION("keep-alive serves several requests on one connection") {
    conduit::test::TlsClient c;
    REQUIRE(c.connect(server.port));
    for (int i = 0; i < 3; ++i) {
      REQUIRE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
      CHECK(conduit::test::statusOf(c.readResponse()) == 200);
    }
  }
}

TEST_CASE("SIGTERM finishes the request in flight, closes idle connections, exits 0") {
  TempDir dir;
  initData(dir);
  auto server = startServer(dir);

  conduit::test::TlsClient idle;
  REQUIRE(idle.connect(server.port));
  conduit::test::TlsClient busy;
  REQUIRE(busy.connect(server.port));
  // Half a request: the server has started reading it when the signal arrives.
  REQUIRE(busy.send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  std::this_thread::sleep_for(300ms);

  server.process->signal(SIGTERM);
  REQUIRE(server.process->waitForLine("event=portal_shutdown", 5s).has_value());
  REQUIRE(busy.send("\r\n"));
  const auto response = busy.readResponse();
  CHECK(conduit::test::statusOf(response) == 200);
  CHECK(hasHeader(response, "Connection: close"));
  CHECK(idle.readResponse().empty());  // closed without an answer

  auto rc = server.process->wait(10s);
  INFO(server.process->errors());
  REQUIRE(rc.has_value());
  CHECK(*rc == 0);
  CHECK_THAT(server.process->errors(), Catch::Contains("event=stopped"));
  // New connections are refused once it has stopped.
  CHECK(conduit::test::httpsGet(server.port, "/healthz").empty());
}

TEST_CASE("start-up failures give one clear line and exit 1") {
  TempDir dir;
  initData(dir);

  SECTION("port in use") {
    auto first = startServer(dir);
    conduit::test::writeText(dir / "second.toml", "data_dir = \"" + (dir / "data").string() +
                                                      "\"\n[ssh]\nport = 0\n[portal]\nport = " +
                                                      std::to_string(first.port) + "\n");
    auto [rc, out] = conduit::test::runCommand(
        {CONDUIT_BINARY, "serve", "--config", (dir / "second.toml").string()});
    CHECK(rc == 1);
    CHECK_THAT(out, Catch::Contains("cannot listen on 127.0.0.1:" + std::to_string(first.port)));
  }
  SECTION("unknown config key") {
    conduit::test::writeText(dir / "bad.toml", "[portal]\nprot = 1\n");
    auto [rc, out] = conduit::test::runCommand(
        {CONDUIT_BINARY, "serve", "--config", (dir / "bad.toml").string()});
    CHECK(rc == 1);
    CHECK_THAT(out, Catch::Contains("bad.toml:2: unknown key 'portal.prot'"));
  }
  SECTION("missing config file") {
    auto [rc, out] = conduit::test::runCommand(
        {CONDUIT_BINARY, "serve", "--config", (dir / "absent.toml").string()});
    CHECK(rc == 1);
    CHECK_THAT(out, Catch::Contains("cannot read config file"));
  }
  SECTION("data directory open to others") {
    std::filesystem::permissions(dir / "data", std::filesystem::perms::group_read,
                                 std::filesystem::perm_options::add);
    conduit::test::writeText(dir / "c.toml", configFor(dir));
    auto [rc, out] =
        conduit::test::runCommand({CONDUIT_BINARY, "serve", "--config", (dir / "c.toml").string()});
    CHECK(rc == 1);
    CHECK_THAT(out, Catch::Contains("must not be open to group or others"));
  }
  SECTION("corrupt database") {
    conduit::test::writeText(dir / "data" / "conduit.db", std::string(4096, 'q'));
    std::filesystem::remove(dir / "data" / "conduit.db-wal");
    std::filesystem::remove(dir / "data" / "conduit.db-shm");
    conduit::test::writeText(dir / "c.toml", configFor(dir));
    auto [rc, out] =
        conduit::test::runCommand({CONDUIT_BINARY, "serve", "--config", (dir / "c.toml").string()});
    CHECK(rc == 1);
    CHECK_THAT(out, Catch::Contains("not a Conduit database"));
  }
  SECTION("usage errors exit 2 and --help exits 0") {
    auto [rc, out] = conduit::test::runCommand({CONDUIT_BINARY, "serve"});
    CHECK(rc == 2);
    CHECK_THAT(out, Catch::Contains("--config is required"));
    auto [rcHelp, help] = conduit::test::runCommand({CONDUIT_BINARY, "init", "--help"});
    CHECK(rcHelp == 0);
    CHECK_THAT(help, Catch::Contains("--data-dir"));
  }
}
