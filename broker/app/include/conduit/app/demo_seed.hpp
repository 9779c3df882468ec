#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "conduit/core/clock.hpp"
#include "conduit/core/result.hpp"

namespace conduit::store {
class Database;
}

namespace conduit::app {

/// A seeded demo login.
struct DemoAccount {
  std::string username;
  std::string role;
  std::string password;
  std::string totpUri;  // set for the demo vendor: add it to an authenticator app
};

// The demo's simulated PLC: scripts/demo-targets.sh runs conduit-demo-plc on 127.0.0.1 at this
// port, and the seed makes it the asset plc-1 (a modbus endpoint) that alice may tunnel to.
inline constexpr const char* kDemoPlcAsset = "plc-1";
// 1502: the usual unprivileged stand-in for Modbus's 502.
inline constexpr std::uint16_t kDemoPlcPort = 1502;
// The demo's Modbus rule, installed beside the presets in <data_dir>/policies/ and ordered
// before them (the first matching rule decides).
inline constexpr const char* kDemoPlcPolicyFile = "15-demo-plc.toml";
// The demo's Linux operator panel (xrdp, scripts/demo-targets.sh, as root only): the asset
// panel-7, whose RDP sessions get a drive and the clipboard under the rule in this file.
inline constexpr const char* kDemoPanelAsset = "panel-7";
inline constexpr std::uint16_t kDemoPanelPort = 13390;
inline constexpr const char* kDemoPanelPolicyFile = "16-demo-panel.toml";

/// Seeds the demo organisation once: groups, a vendor, one user per role and a few assets.
/// Passwords are random per installation (never defaults) and kept in
/// <data_dir>/demo-accounts.txt (0600) so later runs can print them again. The demo PLC (asset
/// plc-1, its policy rule and alice's approved modbus window) is added on its own when missing,
/// so a demo directory seeded before it existed gains it too. Returns the accounts, or the
/// first store or file error.
core::Result<std::vector<DemoAccount>> seedDemo(store::Database& db, const core::Clock& clock,
                                                const std::filesystem::path& dataDir);

}  // namespace conduit::app
