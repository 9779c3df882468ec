#pragma once

#include <catch2/catch.hpp>
#include <filesystem>

#include "conduit/access/recording_keys.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/store/database.hpp"

namespace conduit::recorder::testing {

/// The broker's recording keys from the vault of a data directory made by `conduit init`.
inline access::RecordingKeys recordingKeysOf(const std::filesystem::path& data) {
  auto db = store::Database::open(data / "conduit.db");
  REQUIRE(db.ok());
  core::SystemClock clock;
  access::VaultService vault(*db, clock);
  REQUIRE(vault.unsealWithKeyFile(data / "vault" / "master.key").ok());
  auto keys = access::openRecordingKeys(vault);
  REQUIRE(keys.ok());
  return std::move(*keys);
}

}  // namespace conduit::recorder::testing
