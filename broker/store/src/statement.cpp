#include "conduit/store/statement.hpp"

#include <sqlite3.h>

#include "statement_cache.hpp"

namespace conduit::store {

using core::ErrorCode;
using core::fail;

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    release();
    stmt_ = std::exchange(other.stmt_, nullptr);
    cache_ = other.cache_;
    sql_ = std::move(other.sql_);
    bindError_ = other.bindError_;
  }
  return *this;
}

Statement::~Statement() {
  release();
}

void Statement::release() noexcept {
  if (stmt_ == nullptr) return;
  if (cache_ != nullptr) {
    cache_->put(std::move(sql_), std::exchange(stmt_, nullptr));
  } else {
    sqlite3_finalize(std::exchange(stmt_, nullptr));
  }
}

Statement& Statement::bind(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bindError_ == 0) bindError_ = rc;
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  const int rc =
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bindError_ == 0) bindError_ = rc;
  return *this;
}

Statement& Statement::bindBlob(int index, const void* data, std::size_t size) {
  const int rc = sqlite3_bind_blob64(stmt_, index, data, size, SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bindError_ == 0) bindError_ = rc;
  return *this;
}

Statement& Statement::bindNull(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK && bindError_ == 0) bindError_ = rc;
  return *this;
}

core::Result<bool> Statement::step() {
  if (bindError_ != 0) {
    return fail(ErrorCode::internal, std::string("bind failed: ") + sqlite3_errstr(bindError_));
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const int primary = rc & 0xff;
  ErrorCode code = ErrorCode::io;
  if (primary == SQLITE_CONSTRAINT) code = ErrorCode::conflict;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) code = ErrorCode::unavailable;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) code = ErrorCode::corrupt;
  return fail(code, sqlite3_errmsg(sqlite3_db_handle(stmt_)));
}

core::Status Statement::run() {
  auto row = step();
  if (!row) return row.error();
  return core::Done{};
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bindError_ = 0;
}

std::int64_t Statement::columnInt(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::columnText(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)};
}

std::optional<std::string> Statement::columnOptionalText(int column) const {
  if (columnIsNull(column)) return std::nullopt;
  return columnText(column);
}

std::vector<unsigned char> Statement::columnBlob(int column) const {
  const auto* data = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, column));
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return {data, data + size};
}

bool Statement::columnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

}  // namespace conduit::store
