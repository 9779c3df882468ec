#include "conduit/store/migrations.hpp"

#include "conduit/store/database.hpp"

namespace conduit::store {

using core::ErrorCode;
using core::fail;

core::Result<int> migrate(Database& db, const std::vector<Migration>& migrations) {
  auto current = db.schemaVersion();
  if (!current) return current.error();
  const int newest = migrations.empty() ? 0 : migrations.back().version;
  if (*current > newest) {
    return fail(ErrorCode::conflict,
                db.path().string() + " has schema version " + std::to_string(*current) +
                    " but this Conduit knows only up to " + std::to_string(newest) +
                    ": it was written by a newer release; upgrade Conduit instead");
  }
  int version = *current;
  for (const Migration& m : migrations) {
    if (m.version <= version) continue;
    if (m.version != version + 1) {
      return fail(ErrorCode::internal, "migration " + std::to_string(version + 1) + " is missing");
    }
    auto tx = Transaction::begin(db);
    if (!tx) return tx.error();
    if (auto st = db.executeTrusted(m.sql); !st) {
      return fail(st.error().code, "migration " + m.name + " failed: " + st.error().message);
    }
    auto record = db.prepare("INSERT INTO schema_migrations(version, name) VALUES(?1, ?2)");
    if (!record) return record.error();
    if (auto st = record->bind(1, std::int64_t{m.version}).bind(2, m.name).run(); !st) {
      return st.error();
    }
    // PRAGMA user_version takes no bound parameter; the value is an integer we own.
    if (auto st = db.executeTrusted("PRAGMA user_version=" + std::to_string(m.version)); !st) {
      return st.error();
    }
    if (auto st = tx->commit(); !st) return st.error();
    version = m.version;
  }
  return version;
}

core::Result<int> migrate(Database& db) {
  return migrate(db, builtinMigrations());
}

}  // namespace conduit::store
