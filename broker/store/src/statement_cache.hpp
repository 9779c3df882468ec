#pragma once

// Reuse of compiled SQLite statements (Database::prepare). Not thread-safe: like its Database,
// one thread at a time.

#include <sqlite3.h>

#include <string>
#include <unordered_map>

namespace conduit::store {

class StatementCache {
 public:
  StatementCache() = default;
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;
  ~StatementCache() {
    for (auto& [sql, stmt] : idle_) sqlite3_finalize(stmt);
  }

  /// A compiled statement for exactly this SQL, or nullptr.
  sqlite3_stmt* take(const std::string& sql) {
    auto it = idle_.find(sql);
    if (it == idle_.end()) return nullptr;
    sqlite3_stmt* stmt = it->second;
    idle_.erase(it);
    return stmt;
  }

  /// Keeps a statement for reuse (reset, bindings cleared); finalizes it when full.
  void put(std::string sql, sqlite3_stmt* stmt) noexcept {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    // 256 statements: more than this project's distinct queries; a bound on memory regardless.
    if (idle_.size() >= 256) {
      sqlite3_finalize(stmt);
      return;
    }
    idle_.emplace(std::move(sql), stmt);
  }

 private:
  std::unordered_multimap<std::string, sqlite3_stmt*> idle_;
};

}  // namespace conduit::store
