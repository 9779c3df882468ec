#include "conduit/store/database.hpp"

#include <sqlite3.h>

#include "statement_cache.hpp"

namespace conduit::store {

using core::ErrorCode;
using core::fail;

namespace {

std::string describe(sqlite3* db, const std::filesystem::path& path, std::string_view what) {
  return std::string(what) + " " + path.string() + ": " +
         (db ? sqlite3_errmsg(db) : "out of memory");
}

}  // namespace

core::Result<Database> Database::open(const std::filesystem::path& path,
                                      const DatabaseOptions& options) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = describe(raw, path, "cannot open database");
    sqlite3_close_v2(raw);
    return fail(ErrorCode::unavailable, std::move(msg));
  }
  Database db(raw, path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(options.busyTimeout.count()));

  // The first real read tells a database from a file that only has its name: SQLite opens
  // lazily, so a corrupt or foreign file is found here rather than at first use.
  auto mode = db.prepare("PRAGMA journal_mode=WAL");
  if (!mode) {
    const bool notDb =
        sqlite3_errcode(raw) == SQLITE_NOTADB || sqlite3_errcode(raw) == SQLITE_CORRUPT;
    return fail(notDb ? ErrorCode::corrupt : ErrorCode::unavailable,
                notDb ? path.string() + " is not a Conduit database (corrupt or another format)"
                      : mode.error().message);
  }
  auto row = mode->step();
  if (!row) {
    const int code = sqlite3_errcode(raw) & 0xff;
    const bool notDb = code == SQLITE_NOTADB || code == SQLITE_CORRUPT;
    return fail(notDb ? ErrorCode::corrupt : ErrorCode::unavailable,
                notDb ? path.string() + " is not a Conduit database (corrupt or another format)"
                      : row.error().message);
  }
  if (mode->columnText(0) != "wal") {
    return fail(ErrorCode::unavailable, "cannot switch " + path.string() + " to WAL mode");
  }
  if (auto st = db.executeTrusted("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"); !st) {
    return st.error();
  }
  return db;
}

Database::Database(sqlite3* db, std::filesystem::path path)
    : db_(db), path_(std::move(path)), cache_(std::make_unique<StatementCache>()) {}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      path_(std::move(other.path_)),
      cache_(std::move(other.cache_)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    cache_.reset();
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
    cache_ = std::move(other.cache_);
  }
  return *this;
}

Database::~Database() {
  cache_.reset();  // finalize cached statements before closing
  sqlite3_close_v2(db_);
}

core::Result<Statement> Database::prepare(std::string_view sql) {
  std::string text(sql);
  if (sqlite3_stmt* cached = cache_ ? cache_->take(text) : nullptr) {
    return Statement(cached, cache_.get(), std::move(text));
  }
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return fail(ErrorCode::io, describe(db_, path_, "SQL error in"));
  }
  return Statement(stmt, cache_.get(), std::move(text));
}

core::Status Database::executeTrusted(const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = path_.string() + ": " + (err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    const int primary = rc & 0xff;
    return fail(
        primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT ? ErrorCode::corrupt : ErrorCode::io,
        std::move(msg));
  }
  return core::Done{};
}

std::int64_t Database::changes() const noexcept {
  return sqlite3_changes64(db_);
}
std::int64_t Database::lastInsertId() const noexcept {
  return sqlite3_last_insert_rowid(db_);
}

core::Result<int> Database::schemaVersion() {
  auto stmt = prepare("PRAGMA user_version");
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  return static_cast<int>(stmt->columnInt(0));
}

core::Status Database::checkIntegrity() {
  auto stmt = prepare("PRAGMA quick_check");
  if (!stmt) return fail(ErrorCode::corrupt, stmt.error().message);
  auto row = stmt->step();
  if (!row) return fail(ErrorCode::corrupt, row.error().message);
  if (!*row || stmt->columnText(0) != "ok") {
    return fail(ErrorCode::corrupt, path_.string() + " failed its integrity check: " +
                                        (*row ? stmt->columnText(0) : std::string("no result")));
  }
  return core::Done{};
}

core::Result<Transaction> Transaction::begin(Database& db) {
  if (auto st = db.executeTrusted("BEGIN IMMEDIATE"); !st) return st.error();
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_) (void)db_->executeTrusted("ROLLBACK");
}

core::Status Transaction::commit() {
  Database* db = std::exchange(db_, nullptr);
  if (!db) return fail(ErrorCode::internal, "transaction already finished");
  if (auto st = db->executeTrusted("COMMIT"); !st) {
    (void)db->executeTrusted("ROLLBACK");
    return st;
  }
  return core::Done{};
}

}  // namespace conduit::store
