#pragma once

// `conduit tunnel` in tests (the portal's WebSocket tunnel, web_tunnel_test.cpp and
// s7_peers_test.cpp): an API token made through the portal, and the vendor's client started
// on a free local port.

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "conduit/app/data_dir.hpp"
#include "ssh/integration/plant.hpp"
#include "ssh/integration/tunnel_support.hpp"
#include "support/process.hpp"

namespace conduit::test {

/// An API token with `role`, created as the portal's token page does, written to a 0600 file.
inline std::string tokenFile(Plant& p, std::uint16_t port, const std::string& user,
                             const PortalLogin& login, const std::string& role) {
  const auto made = call(port, "POST", "/api/v1/tokens", login.headers(),
                         R"({"name":"laptop","roles":[")" + role + R"("]})");
  INFO(made.raw);
  REQUIRE(made.status == 201);
  const std::string token = jsonString(made.body, "token");
  REQUIRE(!token.empty());
  const auto file = p.dir / (user + ".token");
  test::writeText(file, token + "\n");
  std::filesystem::permissions(
      file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return file.string();
}

struct VendorTunnel {
  std::unique_ptr<test::Process> process;
  std::uint16_t localPort = 0;
};

/// `conduit tunnel` trusting the portal's certificate, listening on a free local port; its
/// stdout joins its stderr so the test can read both.
inline VendorTunnel startTunnel(Plant& p, std::uint16_t portal, const std::string& token,
                                const std::string& asset, std::uint16_t port) {
  const std::string cmd = std::string("exec ") + CONDUIT_BINARY +
                          " tunnel --portal https://127.0.0.1:" + std::to_string(portal) +
                          " --token-file " + token + " --asset " + asset + " --port " +
                          std::to_string(port) + " --ca-file " +
                          app::DataDirLayout{p.data}.tlsCertificate().string() + " 1>&2";
  VendorTunnel t;
  t.process = std::make_unique<test::Process>(std::vector<std::string>{"/bin/sh", "-c", cmd});
  const auto line = t.process->waitForLine("listening on", std::chrono::seconds(20));
  INFO(t.process->errors());
  REQUIRE(line.has_value());
  // "listening on 127.0.0.1:N -> ASSET:P"
  const auto colon = line->find(':', line->find("127.0.0.1"));
  t.localPort = static_cast<std::uint16_t>(std::stoi(line->substr(colon + 1)));
  CHECK_THAT(*line, Catch::Contains("-> " + asset + ":" + std::to_string(port)));
  return t;
}

/// The session id `conduit tunnel` printed for its n-th connection (from 1).
inline std::string sessionIdOf(test::Process& tunnel, int n = 1) {
  for (int i = 0; i < 100; ++i) {
    tunnel.waitForLine("no such line",
                       std::chrono::milliseconds(100));  // collects what it printed so far
    const std::string& err = tunnel.errors();
    auto at = err.find(": session wt-");
    for (int k = 1; k < n && at != std::string::npos; ++k) at = err.find(": session wt-", at + 1);
    if (at != std::string::npos) {
      const auto start = at + 10;
      return err.substr(start, err.find(' ', start) - start);
    }
  }
  return "";
}

/// Waits until the session's recording is sealed (its manifest exists).
inline void waitSealed(Plant& p, const std::string& id) {
  for (int i = 0; i < 100; ++i) {
    const auto [rc, list] = p.conduit({"recording", "--data-dir", p.data, "list"});
    const auto at = list.find(id + " ");
    if (rc == 0 && at != std::string::npos &&
        list.substr(at, list.find('\n', at) - at).find("no manifest") == std::string::npos) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL("the recording of " << id << " was not sealed");
}

}  // namespace conduit::test
