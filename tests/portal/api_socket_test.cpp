// The portal's WebSockets over real TLS: origin and authorisation at the upgrade, live view
// fan-out, the browser terminal's message protocol, and sockets ending with the portal session.
#include <prometheus/registry.h>

#include <fstream>
#include <thread>

#include "api_world.hpp"
#include "conduit/access/access_service.hpp"
#include "conduit/portal/metrics.hpp"
#include "conduit/portal/server.hpp"
#include "conduit/portal/tls_certificate.hpp"
#include "conduit/session/live_hub.hpp"
#include "conduit/store/portal_repository.hpp"
#include "ws_client.hpp"

using namespace conduit;
using namespace std::chrono_literals;
using test::ApiWorld;
using test::Browser;
using test::WsClient;

namespace {

/// A terminal that echoes what is typed, upper-cased, and records what it was asked to do. The
/// real one (ssh::WebShell against a real sshd) is tested in tests/ssh and end to end in
/// tests/e2e; this checks the portal's side of the socket.
struct EchoTerminal final : portal::TerminalSession {
  portal::TerminalIo io;
  std::mutex mutex;
  std::string resized;
  std::string closedWith;
  void input(std::string_view bytes) override {
    std::string up(bytes);
    for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    io.output(up);
  }
  void resize(int cols, int rows) override {
    std::lock_guard lock(mutex);
    resized = std::to_string(cols) + "x" + std::to_string(rows);
  }
  void close(const std::string& reason) override {
    std::lock_guard lock(mutex);
    if (closedWith.empty()) {
      closedWith = reason;
      io.closed(reason);
    }
  }
  std::string sessionId() const override { return "web-1-1"; }
};

struct EchoLauncher final : portal::TerminalLauncher {
  std::mutex mutex;
  EchoTerminal* last = nullptr;
  std::string lastRequest;
  core::Result<std::unique_ptr<portal::TerminalSession>> start(const std::string& user,
                                                               const std::string& asset,
                                                               const std::string&, int cols,
                                                               int rows,
                                                               portal::TerminalIo io) override {
    if (asset != "hmi-3") return core::fail(core::ErrorCode::permission_denied, "no grant");
    auto t = std::make_unique<EchoTerminal>();
    t->io = std::move(io);
    std::lock_guard lock(mutex);
    last = t.get();
    lastRequest = user + "@" + asset + " " + std::to_string(cols) + "x" + std::to_string(rows);
    return std::unique_ptr<portal::TerminalSession>(std::move(t));
  }
};

struct Served {
  ApiWorld w;
  session::LiveHub hub;
  EchoLauncher launcher;
  portal::HttpMetrics metrics{std::make_shared<prometheus::Registry>()};
  std::unique_ptr<portal::Server> server;
  std::thread thread;
  std::string origin;

  Served() {
    auto pem = portal::makeSelfSignedCertificate("localhost", {"localhost"}, {"127.0.0.1"}, 1);
    REQUIRE(pem.ok());
    std::ofstream(w.dir / "c.crt") << pem->certificate;
    std::ofstream(w.dir / "c.key") << pem->privateKey;
    w.api->setLiveHub(&hub);
    w.api->setTerminalLauncher(&launcher);
    portal::ServerOptions o;
    o.port = 0;
    o.certificateFile = w.dir / "c.crt";
    o.privateKeyFile = w.dir / "c.key";
    auto started = portal::Server::start(o, w.router, metrics);
    REQUIRE(started.ok());
    server = std::move(*started);
    origin = "https://127.0.0.1:" + std::to_string(server->port());
    thread = std::thread([this] { server->run(); });
  }
  ~Served() {
    server->shutdown(2s);
    thread.join();
  }
  std::string cookie(const Browser& b) { return "__Host-conduit-session=" + b.cookie; }
  std::uint16_t port() const { return server->port(); }

  /// A live session of alice's on hmi-3, approved by erin.
  void liveSession(const std::string& id) {
    access::AccessService access(w.db, w.policy, w.clock);
    auto approved = access.vote({"erin", "cli"}, w.aliceRequest, true, "ok");
    REQUIRE(approved.ok());
    REQUIRE(store::SessionRepository(w.db)
                .started({id, "alice", "hmi-3", "ssh", "10.0.0.5", approved->grant->id,
                          w.clock.now(), w.clock.now() + 1h, std::nullopt, "", 0, 0})
                .ok());
    hub.started(id);
  }
};

}  // namespace

TEST_CASE("live view: engineers of the asset watch output as it happens, others cannot") {
  Served s;
  s.liveSession("ssh-7-1");
  s.hub.publish("ssh-7-1", "$ ls\r\n");
  Browser erin = s.w.signIn("erin"), sam = s.w.signIn("sam"), alice = s.w.signIn("alice");
  const std::string path = "/api/v1/sessions/ssh-7-1/live";
  {
    WsClient c;
    CHECK(c.connect(s.port(), path, s.cookie(erin), "https://evil.example") == 403);
  }
  {
    WsClient c;
    CHECK(c.connect(s.port(), path, "", s.origin) == 401);
  }
  {
    WsClient c;
    CHECK(c.connect(s.port(), path, s.cookie(alice), s.origin) == 403);  // vendors do not watch
  }
  {
    WsClient c;
    CHECK(c.connect(s.port(), path, s.cookie(sam), s.origin) == 404);  // not sam's group
    CHECK(c.refusalBody().find("\"error\"") != std::string::npos);
  }
  WsClient c;
  REQUIRE(c.connect(s.port(), path, s.cookie(erin), s.origin) == 101);
  auto backlog = c.read();
  REQUIRE(backlog);
  CHECK(backlog->binary);
  CHECK(backlog->data == "$ ls\r\n");  // what happened before the engineer looked
  s.hub.publish("ssh-7-1", "plc.cfg\r\n");
  auto next = c.read();
  REQUIRE(next);
  CHECK(next->data == "plc.cfg\r\n");
  s.hub.ended("ssh-7-1", "killed by erin");
  auto closed = c.read();
  REQUIRE(closed);
  CHECK_FALSE(closed->binary);
  CHECK(closed->data.find("killed by erin") != std::string::npos);
  CHECK_FALSE(c.read());
  CHECK(c.closeReason() == "killed by erin");
}

TEST_CASE("logging out closes that session's open WebSockets") {
  Served s;
  s.liveSession("ssh-7-2");
  Browser erin = s.w.signIn("erin");
  WsClient c;
  REQUIRE(c.connect(s.port(), "/api/v1/sessions/ssh-7-2/live", s.cookie(erin), s.origin) == 101);
  REQUIRE(s.w.call("POST", "/api/v1/logout", &erin, "{}").status == 204);
  // Closed by the logout itself, or (if it ran in between) by the watchdog (period 2 s): 3 s
  // leaves room for a loaded machine; a socket left open would time out with no close reason.
  CHECK_FALSE(c.read(3s));
  CHECK(c.closeReason().starts_with("signed out"));
}

TEST_CASE("a disabled user's WebSockets close within the watchdog period") {
  Served s;
  s.liveSession("ssh-7-3");
  Browser erin = s.w.signIn("erin");
  WsClient c;
  REQUIRE(c.connect(s.port(), "/api/v1/sessions/ssh-7-3/live", s.cookie(erin), s.origin) == 101);
  REQUIRE(access::AdminService(s.w.db, s.w.clock).setUserDisabled(s.w.root, "erin", true).ok());
  CHECK_FALSE(c.read(5s));
  CHECK(c.closeReason().starts_with("signed out"));
}

TEST_CASE("browser terminal: vendors only, keys in, output out, resize, and a clean close") {
  Served s;
  Browser alice = s.w.signIn("alice"), erin = s.w.signIn("erin");
  {
    WsClient c;
    CHECK(c.connect(s.port(), "/api/v1/terminal?asset=hmi-3", s.cookie(erin), s.origin) == 403);
  }
  {
    WsClient c;
    CHECK(c.connect(s.port(), "/api/v1/terminal?asset=hmi-3", s.cookie(alice), "null") == 403);
  }
  {
    // Accepted, but the launcher refuses: the reason comes as a closed message.
    WsClient c;
    REQUIRE(c.connect(s.port(), "/api/v1/terminal?asset=plc-99", s.cookie(alice), s.origin) == 101);
    auto m = c.read();
    REQUIRE(m);
    CHECK(m->data.find("no grant") != std::string::npos);
    CHECK_FALSE(c.read());
  }
  WsClient c;
  REQUIRE(c.connect(s.port(), "/api/v1/terminal?asset=hmi-3&cols=132&rows=43", s.cookie(alice),
                    s.origin) == 101);
  auto started = c.read();
  REQUIRE(started);
  CHECK(started->data.find("\"started\"") != std::string::npos);
  CHECK(started->data.find("web-1-1") != std::string::npos);
  {
    std::lock_guard lock(s.launcher.mutex);
    CHECK(s.launcher.lastRequest == "alice@hmi-3 132x43");
  }
  c.sendText(R"({"type":"input","data":"ls -l\r"})");
  auto out = c.read();
  REQUIRE(out);
  CHECK(out->binary);
  CHECK(out->data == "LS -L\r");
  c.sendText(R"({"type":"resize","cols":100,"rows":30})");
  c.sendText(R"({"type":"input","data":"x"})");
  REQUIRE(c.read());  // the resize was handled before this echo
  {
    std::lock_guard lock(s.launcher.last->mutex);
    CHECK(s.launcher.last->resized == "100x30");
  }
  c.sendText(R"({"type":"exec","data":"rm -rf /"})");  // not part of the protocol
  auto closed = c.read();
  REQUIRE(closed);
  CHECK(closed->data.find("unknown message type") != std::string::npos);
  CHECK_FALSE(c.read());
}
