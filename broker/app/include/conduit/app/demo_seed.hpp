#pragma once

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

/// Seeds the demo organisation once: groups, a vendor, one user per role and a few assets.
/// Passwords are random per installation (never defaults) and kept in
/// <data_dir>/demo-accounts.txt (0600) so later runs can print them again.
core::Result<std::vector<DemoAccount>> seedDemo(store::Database& db, const core::Clock& clock,
                                                const std::filesystem::path& dataDir);

}  // namespace conduit::app
