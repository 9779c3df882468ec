#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conduit/core/result.hpp"

struct sqlite3_stmt;

namespace conduit::store {

/// Compiled statements a Database keeps for reuse (see Database::prepare).
class StatementCache;

/// A prepared statement. Parameters are 1-based as in SQLite; columns are 0-based.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  /// A statement that goes back to `cache` (reset, bindings cleared) instead of being finalized.
  Statement(sqlite3_stmt* stmt, StatementCache* cache, std::string sql)
      : stmt_(stmt), cache_(cache), sql_(std::move(sql)) {}
  Statement(Statement&& other) noexcept
      : stmt_(std::exchange(other.stmt_, nullptr)),
        cache_(other.cache_),
        sql_(std::move(other.sql_)),
        bindError_(other.bindError_) {}
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bindBlob(int index, const void* data, std::size_t size);
  Statement& bindNull(int index);

  /// Advances to the next row: true if there is one, false when done, an error otherwise.
  core::Result<bool> step();
  /// Runs a statement that returns no rows.
  core::Status run();
  /// Clears bindings and rewinds so the statement can run again.
  void reset();

  std::int64_t columnInt(int column) const;
  std::string columnText(int column) const;
  std::optional<std::string> columnOptionalText(int column) const;
  std::vector<unsigned char> columnBlob(int column) const;
  bool columnIsNull(int column) const;

 private:
  void release() noexcept;

  sqlite3_stmt* stmt_;
  StatementCache* cache_ = nullptr;
  std::string sql_;
  int bindError_ = 0;  // first bind failure, reported by step()/run()
};

}  // namespace conduit::store
