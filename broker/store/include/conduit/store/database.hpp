#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "conduit/core/result.hpp"
#include "conduit/store/statement.hpp"

struct sqlite3;

namespace conduit::store {

/// How a database is opened.
struct DatabaseOptions {
  // 5 s: long enough to ride out a checkpoint or a concurrent writer, short enough that a stuck
  // writer surfaces as an error instead of a hung request.
  std::chrono::milliseconds busyTimeout{5000};
  // Create the file if it does not exist; `false` for tools that must only read existing data.
  bool create = true;
};

/// One SQLite connection in WAL mode with foreign keys on. Not thread-safe: one per thread.
class Database {
 public:
  /// Opens (and with options.create, creates) the database at path, sets WAL, foreign keys and
  /// the busy timeout, and checks that the file really is a SQLite database.
  /// Fails with `corrupt` for a file that is not a database, `unavailable` if it cannot be opened.
  static core::Result<Database> open(const std::filesystem::path& path,
                                     const DatabaseOptions& options = {});

  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  /// Compiles one SQL statement. Values are always bound, never spliced into the text.
  core::Result<Statement> prepare(std::string_view sql);

  /// Runs trusted, constant SQL (migrations, pragmas) that may hold several statements.
  /// Never pass text derived from input: use prepare() and bind().
  core::Status executeTrusted(const std::string& sql);

  /// Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  std::int64_t changes() const noexcept;
  /// Row id of the last successful INSERT on this connection.
  std::int64_t lastInsertId() const noexcept;

  /// The schema version recorded by the migrations (PRAGMA user_version).
  core::Result<int> schemaVersion();

  /// Runs `PRAGMA quick_check`; fails with `corrupt` naming the first problem.
  core::Status checkIntegrity();

  const std::filesystem::path& path() const noexcept { return path_; }
  sqlite3* handle() noexcept { return db_; }

 private:
  Database(sqlite3* db, std::filesystem::path path);
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
  // Compiled statements by SQL text, reused across calls: compiling costs more than running
  // most of this project's queries. Owned here (stable address across moves of the Database).
  std::unique_ptr<StatementCache> cache_;
};

/// A transaction that rolls back unless commit() succeeds. BEGIN IMMEDIATE so that writers
/// serialise at the start instead of failing at the first write.
class Transaction {
 public:
  /// Begins an immediate transaction on db.
  static core::Result<Transaction> begin(Database& db);
  Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  /// Commits; on failure the transaction has been rolled back.
  core::Status commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
};

}  // namespace conduit::store
