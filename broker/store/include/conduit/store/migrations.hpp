#pragma once

#include <string>
#include <vector>

#include "conduit/core/result.hpp"

namespace conduit::store {

class Database;

/// One numbered schema change from broker/store/migrations/NNNN_name.sql.
struct Migration {
  int version;
  std::string name;
  std::string sql;
};

/// The migrations compiled into this binary, in ascending version order.
const std::vector<Migration>& builtinMigrations();

/// Brings db up to the newest of `migrations`, each in its own transaction that also records
/// the new version; returns the version reached. A database whose version is newer than any
/// known migration is refused with `conflict` (it was written by a newer Conduit).
core::Result<int> migrate(Database& db, const std::vector<Migration>& migrations);

/// migrate() with builtinMigrations().
core::Result<int> migrate(Database& db);

}  // namespace conduit::store
