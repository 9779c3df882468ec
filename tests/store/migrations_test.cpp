#include <catch2/catch.hpp>

#include "conduit/store/database.hpp"
#include "conduit/store/migrations.hpp"
#include "support/temp_dir.hpp"

using conduit::core::ErrorCode;
using conduit::store::Database;
using conduit::store::migrate;
using conduit::store::Migration;
using conduit::test::TempDir;

namespace {
std::vector<Migration> twoMigrations() {
  return {{1, "0001_initial",
           "CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY,"
           " name TEXT NOT NULL); CREATE TABLE a(x INTEGER);"},
          {2, "0002_more", "CREATE TABLE b(y INTEGER REFERENCES a(x));"}};
}

std::int64_t count(Database& db, const char* sql) {
  auto st = db.prepare(sql);
  REQUIRE(st.ok());
  REQUIRE(st->step().value());
  return st->columnInt(0);
}
}  // namespace

TEST_CASE("a fresh database gets every built-in migration, in WAL mode with foreign keys") {
  TempDir dir;
  auto db = Database::open(dir / "c.db");
  REQUIRE(db.ok());
  auto version = migrate(*db);
  REQUIRE(version.ok());
  CHECK(*version == conduit::store::builtinMigrations().back().version);
  CHECK(db->schemaVersion().value() == *version);
  CHECK(count(*db, "SELECT count(*) FROM schema_migrations") ==
        static_cast<std::int64_t>(conduit::store::builtinMigrations().size()));
  CHECK(count(*db, "PRAGMA foreign_keys") == 1);
  auto mode = db->prepare("PRAGMA journal_mode");
  REQUIRE(mode->step().value());
  CHECK(mode->columnText(0) == "wal");
}

TEST_CASE("re-running migrations changes nothing") {
  TempDir dir;
  auto db = Database::open(dir / "c.db");
  REQUIRE(migrate(*db, twoMigrations()).value() == 2);
  REQUIRE(db->executeTrusted("INSERT INTO a VALUES (7)").ok());
  REQUIRE(migrate(*db, twoMigrations()).value() == 2);
  CHECK(count(*db, "SELECT count(*) FROM schema_migrations") == 2);
  CHECK(count(*db, "SELECT x FROM a") == 7);
}

TEST_CASE("migrations apply in order from the recorded version") {
  TempDir dir;
  auto db = Database::open(dir / "c.db");
  auto first = twoMigrations();
  first.pop_back();
  REQUIRE(migrate(*db, first).value() == 1);
  CHECK(migrate(*db, twoMigrations()).value() == 2);
  CHECK(count(*db, "SELECT count(*) FROM sqlite_master WHERE name='b'") == 1);
}

TEST_CASE("a failing migration rolls back entirely and leaves the version") {
  TempDir dir;
  auto db = Database::open(dir / "c.db");
  auto migrations = twoMigrations();
  migrations[1].sql = "CREATE TABLE c(z INTEGER); THIS IS NOT SQL;";
  auto result = migrate(*db, migrations);
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error().message, Catch::Contains("0002_more"));
  CHECK(db->schemaVersion().value() == 1);
  CHECK(count(*db, "SELECT count(*) FROM sqlite_master WHERE name='c'") == 0);
}

TEST_CASE("a database from a newer version is refused") {
  TempDir dir;
  auto db = Database::open(dir / "c.db");
  REQUIRE(db->executeTrusted("PRAGMA user_version=99").ok());
  auto result = migrate(*db);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::conflict);
  CHECK_THAT(result.error().message, Catch::Contains("newer"));
  CHECK(db->schemaVersion().value() == 99);
}

TEST_CASE("a file that is not a database is reported as corrupt") {
  TempDir dir;
  conduit::test::writeText(dir / "c.db", std::string(8192, 'x'));
  auto db = Database::open(dir / "c.db");
  REQUIRE_FALSE(db.ok());
  CHECK(db.error().code == ErrorCode::corrupt);
  CHECK_THAT(db.error().message, Catch::Contains("not a Conduit database"));
}

TEST_CASE("open without create does not make a file") {
  TempDir dir;
  conduit::store::DatabaseOptions options;
  options.create = false;
  auto db = Database::open(dir / "missing.db", options);
  REQUIRE_FALSE(db.ok());
  CHECK_FALSE(std::filesystem::exists(dir / "missing.db"));
}

TEST_CASE("bound values are never interpreted as SQL") {
  TempDir dir;
  auto db = Database::open(dir / "c.db");
  REQUIRE(migrate(*db).ok());
  auto insert = db->prepare("INSERT INTO installation(key, value) VALUES(?1, ?2)");
  const std::string hostile = "x'); DROP TABLE installation; --";
  REQUIRE(insert->bind(1, "k").bind(2, hostile).run().ok());
  auto select = db->prepare("SELECT value FROM installation WHERE key = ?1");
  REQUIRE(select->bind(1, "k").step().value());
  CHECK(select->columnText(0) == hostile);
}

TEST_CASE("a transaction that is not committed leaves nothing") {
  TempDir dir;
  auto db = Database::open(dir / "c.db");
  REQUIRE(migrate(*db).ok());
  {
    auto tx = conduit::store::Transaction::begin(*db);
    REQUIRE(tx.ok());
    REQUIRE(db->executeTrusted("INSERT INTO installation VALUES('a','b')").ok());
  }
  CHECK(count(*db, "SELECT count(*) FROM installation") == 0);
  {
    auto tx = conduit::store::Transaction::begin(*db);
    REQUIRE(db->executeTrusted("INSERT INTO installation VALUES('a','b')").ok());
    REQUIRE(tx->commit().ok());
  }
  CHECK(count(*db, "SELECT count(*) FROM installation") == 1);
}
