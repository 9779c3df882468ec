#pragma once

// Conversions between domain values and column values, shared by the repositories.

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "conduit/core/asset.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/core/result.hpp"
#include "conduit/store/database.hpp"

namespace conduit::store::detail {

inline std::int64_t unix(core::TimePoint t) {
  return t.time_since_epoch().count();
}
inline core::TimePoint fromUnix(std::int64_t s) {
  return core::TimePoint{core::Seconds{s}};
}

inline void bindOptionalTime(Statement& s, int index, const std::optional<core::TimePoint>& t) {
  if (t) {
    s.bind(index, unix(*t));
  } else {
    s.bindNull(index);
  }
}

inline std::optional<core::TimePoint> optionalTime(const Statement& s, int column) {
  if (s.columnIsNull(column)) return std::nullopt;
  return fromUnix(s.columnInt(column));
}

/// "ssh,modbus"
inline std::string protocolsText(const std::vector<core::Protocol>& ps) {
  std::string out;
  for (auto p : ps) out += (out.empty() ? "" : ",") + std::string(core::protocolName(p));
  return out;
}

inline std::vector<core::Protocol> parseProtocols(const std::string& text) {
  std::vector<core::Protocol> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = text.find(',', start);
    const auto word =
        text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (auto p = core::parseProtocol(word)) out.push_back(*p);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

inline std::string joinSet(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ",") + x;
  return out;
}

inline std::set<std::string> splitSet(const std::string& text) {
  std::set<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find(',', start);
    out.insert(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

/// Binds parameter 1 to `name` if given, else to `id` (lookups by either).
inline void bindIdOrName(Statement& s, std::int64_t id, const std::string& name) {
  if (name.empty()) {
    s.bind(1, id);
  } else {
    s.bind(1, name);
  }
}

/// "asset 12" or "asset plc-17" for messages.
inline std::string describeIdOrName(const char* what, std::int64_t id, const std::string& name) {
  return std::string(what) + " " + (name.empty() ? std::to_string(id) : name);
}

/// The first column of every row, as ids.
inline core::Result<std::vector<std::int64_t>> collectIds(Statement& s) {
  std::vector<std::int64_t> ids;
  while (true) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return ids;
    ids.push_back(s.columnInt(0));
  }
}

/// Loads each id with `load` (a repository method returning Result<T>), in order. Ids are read
/// first so that no statement is open while the loader runs its own.
template <typename T, typename Load>
core::Result<std::vector<T>> loadEach(Statement& idQuery, Load load) {
  auto ids = collectIds(idQuery);
  if (!ids) return ids.error();
  std::vector<T> out;
  out.reserve(ids->size());
  for (auto id : *ids) {
    auto item = load(id);
    if (!item) return item.error();
    out.push_back(std::move(*item));
  }
  return out;
}

/// Runs a statement that must change exactly one row; not_found otherwise.
inline core::Status runOne(Database& db, Statement& s, const std::string& what) {
  if (auto st = s.run(); !st) return st;
  if (db.changes() == 0) return core::fail(core::ErrorCode::not_found, what + " not found");
  return core::Done{};
}

}  // namespace conduit::store::detail
