#include "conduit/store/recording_index.hpp"

#include <algorithm>
#include <limits>
#include <string_view>

#include "row_helpers.hpp"

namespace conduit::store {

using core::ErrorCode;
using core::fail;
using namespace detail;

namespace {

// "SELECT <the columns readEntries() reads> FROM recordings <rest>".
std::string entryQuery(std::string_view rest) {
  return "SELECT session_id, file, user_name, asset_name, sealed_at, manifest_blake2b, "
         "text_indexed FROM recordings " +
         std::string(rest);
}

// Rows of entryQuery().
core::Result<std::vector<RecordingEntry>> readEntries(Statement& s) {
  std::vector<RecordingEntry> out;
  while (true) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back({s.columnText(0), s.columnText(1), s.columnText(2), s.columnText(3),
                   fromUnix(s.columnInt(4)), s.columnText(5), s.columnInt(6) != 0});
  }
}

// Rows of (message_index, at_us, file_offset, screen).
core::Result<std::vector<RecordingSeekPoint>> readSeekPoints(Statement& s) {
  std::vector<RecordingSeekPoint> out;
  while (true) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back({static_cast<std::uint64_t>(s.columnInt(0)),
                   static_cast<std::uint64_t>(s.columnInt(1)),
                   static_cast<std::uint64_t>(s.columnInt(2)), s.columnText(3)});
  }
}

// SQLite integers are signed: a value past INT64_MAX cannot be stored faithfully.
bool fitsColumn(std::uint64_t v) {
  return v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
}

// The recording's text_generation; not_found if it is not in the index.
core::Result<std::int64_t> textGeneration(Database& db, const std::string& sessionId) {
  auto s = db.prepare("SELECT text_generation FROM recordings WHERE session_id = ?1");
  if (!s) return s.error();
  s->bind(1, sessionId);
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return fail(ErrorCode::not_found, "recording " + sessionId + " not found");
  const std::int64_t generation = s->columnInt(0);
  s->reset();  // no statement left running when the caller commits
  return generation;
}

}  // namespace

core::Status RecordingIndex::addSeekPoints(const std::string& sessionId,
                                           const std::vector<RecordingSeekPoint>& points) {
  for (std::size_t i = 0; i < points.size(); ++i) {
    const auto& p = points[i];
    const bool increasing =
        i == 0 || (p.messageIndex > points[i - 1].messageIndex && p.atUs >= points[i - 1].atUs &&
                   p.offset > points[i - 1].offset);
    if (!increasing || !fitsColumn(p.messageIndex) || !fitsColumn(p.atUs) ||
        !fitsColumn(p.offset) || p.offset == 0) {
      return fail(ErrorCode::invalid_argument, "seek points must increase through the file");
    }
  }
  auto s = db_.prepare(
      "INSERT INTO recording_seek(session_id, message_index, at_us, file_offset, screen) "
      "VALUES(?1, ?2, ?3, ?4, ?5)");
  if (!s) return s.error();
  for (const auto& p : points) {
    s->reset();
    if (auto st = s->bind(1, sessionId)
                      .bind(2, static_cast<std::int64_t>(p.messageIndex))
                      .bind(3, static_cast<std::int64_t>(p.atUs))
                      .bind(4, static_cast<std::int64_t>(p.offset))
                      .bind(5, p.screen)
                      .run();
        !st) {
      return st;
    }
  }
  return core::Done{};
}

core::Result<std::optional<RecordingSeekPoint>> RecordingIndex::seekPointBefore(
    const std::string& sessionId, std::uint64_t atUs) {
  if (!fitsColumn(atUs)) return fail(ErrorCode::invalid_argument, "time out of range");
  auto s = db_.prepare(
      "SELECT message_index, at_us, file_offset, screen FROM recording_seek "
      "WHERE session_id = ?1 AND at_us < ?2 ORDER BY at_us DESC, message_index DESC LIMIT 1");
  if (!s) return s.error();
  s->bind(1, sessionId).bind(2, static_cast<std::int64_t>(atUs));
  auto rows = readSeekPoints(*s);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<RecordingSeekPoint>();
  return std::optional<RecordingSeekPoint>(std::move(rows->front()));
}

core::Result<std::vector<RecordingSeekPoint>> RecordingIndex::seekPoints(
    const std::string& sessionId) {
  auto s = db_.prepare(
      "SELECT message_index, at_us, file_offset, screen FROM recording_seek "
      "WHERE session_id = ?1 ORDER BY message_index");
  if (!s) return s.error();
  s->bind(1, sessionId);
  return readSeekPoints(*s);
}

core::Status RecordingIndex::add(const RecordingEntry& e,
                                 const std::vector<std::pair<std::uint64_t, std::string>>& lines) {
  auto rec = db_.prepare(
      "INSERT INTO recordings(session_id, file, user_name, asset_name, sealed_at, "
      "manifest_blake2b) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
  if (!rec) return rec.error();
  rec->bind(1, e.sessionId)
      .bind(2, e.file)
      .bind(3, e.user)
      .bind(4, e.asset)
      .bind(5, unix(e.sealedAt))
      .bind(6, e.manifestBlake2b);
  if (auto st = rec->run(); !st) return st;
  return addLines(e.sessionId, lines);
}

core::Status RecordingIndex::addLines(
    const std::string& sessionId, std::span<const std::pair<std::uint64_t, std::string>> lines) {
  auto line = db_.prepare("INSERT INTO recording_text(session_id, at_us, line) VALUES(?1, ?2, ?3)");
  if (!line) return line.error();
  for (const auto& [at, text] : lines) {
    line->reset();
    if (auto st =
            line->bind(1, sessionId).bind(2, static_cast<std::int64_t>(at)).bind(3, text).run();
        !st) {
      return st;
    }
  }
  return core::Done{};
}

core::Result<std::vector<RecordingHit>> RecordingIndex::search(const std::string& text) {
  if (text.empty() || text.size() > 200) {
    return fail(ErrorCode::invalid_argument, "search for 1 to 200 characters");
  }
  // The text is one phrase: quote it for FTS5 (doubling quotes) so that its query syntax
  // (AND, NEAR, *, column filters) cannot be injected; the value is still bound, not spliced.
  std::string phrase = "\"";
  for (char c : text) phrase += c == '"' ? std::string("\"\"") : std::string(1, c);
  phrase += "\"";
  auto s = db_.prepare(
      "SELECT r.session_id, r.file, r.user_name, r.asset_name, r.sealed_at, r.manifest_blake2b, "
      "min(t.at_us), t.line, count(*), r.text_indexed FROM recording_text t "
      "JOIN recordings r ON r.session_id = t.session_id "
      "WHERE recording_text MATCH ?1 GROUP BY r.session_id ORDER BY r.sealed_at, r.session_id");
  if (!s) return s.error();
  s->bind(1, phrase);
  std::vector<RecordingHit> out;
  while (true) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return out;
    RecordingHit h;
    h.recording = {s->columnText(0),    s->columnText(1),          s->columnText(2),
                   s->columnText(3),    fromUnix(s->columnInt(4)), s->columnText(5),
                   s->columnInt(9) != 0};
    h.atUs = static_cast<std::uint64_t>(s->columnInt(6));
    h.line = s->columnText(7);
    h.matches = s->columnInt(8);
    out.push_back(std::move(h));
  }
}

core::Status RecordingIndex::setLegalHold(const std::string& sessionId, bool hold) {
  auto s = db_.prepare("UPDATE recordings SET legal_hold = ?2 WHERE session_id = ?1");
  if (!s) return s.error();
  s->bind(1, sessionId).bind(2, std::int64_t{hold});
  return runOne(db_, *s, "recording " + sessionId);
}

core::Result<std::vector<RecordingEntry>> RecordingIndex::expired(core::TimePoint cutoff) {
  auto s = db_.prepare(entryQuery("WHERE sealed_at < ?1 AND legal_hold = 0 ORDER BY sealed_at"));
  if (!s) return s.error();
  s->bind(1, unix(cutoff));
  return readEntries(*s);
}

core::Result<std::vector<RecordingEntry>> RecordingIndex::recent(std::int64_t limit) {
  auto s = db_.prepare(entryQuery("ORDER BY sealed_at DESC, session_id LIMIT ?1"));
  if (!s) return s.error();
  s->bind(1, limit);
  return readEntries(*s);
}

core::Result<RecordingEntry> RecordingIndex::entry(const std::string& sessionId) {
  auto s = db_.prepare(entryQuery("WHERE session_id = ?1"));
  if (!s) return s.error();
  s->bind(1, sessionId);
  auto rows = readEntries(*s);
  if (!rows) return rows.error();
  if (rows->empty()) return fail(ErrorCode::not_found, "recording " + sessionId + " not found");
  return std::move(rows->front());
}

core::Result<std::int64_t> RecordingIndex::startTextIndex(const std::string& sessionId) {
  auto s = db_.prepare(
      "UPDATE recordings SET text_indexed = 0, text_generation = text_generation + 1 "
      "WHERE session_id = ?1");
  if (!s) return s.error();
  s->bind(1, sessionId);
  if (auto st = runOne(db_, *s, "recording " + sessionId); !st) return st.error();
  return textGeneration(db_, sessionId);
}

core::Status RecordingIndex::setTextIndexed(const std::string& sessionId, bool complete) {
  auto s = db_.prepare("UPDATE recordings SET text_indexed = ?2 WHERE session_id = ?1");
  if (!s) return s.error();
  s->bind(1, sessionId).bind(2, std::int64_t{complete});
  return runOne(db_, *s, "recording " + sessionId);
}

core::Status RecordingIndex::removeLines(const std::string& sessionId) {
  auto s = db_.prepare("DELETE FROM recording_text WHERE session_id = ?1");
  if (!s) return s.error();
  return s->bind(1, sessionId).run();
}

core::Result<std::vector<RecordingEntry>> RecordingIndex::textIncomplete() {
  auto s = db_.prepare(entryQuery("WHERE text_indexed = 0 ORDER BY sealed_at, session_id"));
  if (!s) return s.error();
  return readEntries(*s);
}

core::Status RecordingIndex::remove(const std::string& sessionId) {
  auto text = db_.prepare("DELETE FROM recording_text WHERE session_id = ?1");
  if (!text) return text.error();
  if (auto st = text->bind(1, sessionId).run(); !st) return st;
  auto seek = db_.prepare("DELETE FROM recording_seek WHERE session_id = ?1");
  if (!seek) return seek.error();
  if (auto st = seek->bind(1, sessionId).run(); !st) return st;
  auto rec = db_.prepare("DELETE FROM recordings WHERE session_id = ?1");
  if (!rec) return rec.error();
  rec->bind(1, sessionId);
  return runOne(db_, *rec, "recording " + sessionId);
}

core::Status indexTextInChunks(Database& db, const std::string& sessionId,
                               std::span<const std::pair<std::uint64_t, std::string>> lines,
                               std::size_t perTransaction,
                               const std::function<std::unique_lock<std::mutex>()>& guard,
                               std::int64_t generation) {
  if (perTransaction == 0) return fail(ErrorCode::invalid_argument, "no lines per transaction");
  std::size_t at = 0;
  do {
    const auto chunk = lines.subspan(at, std::min(perTransaction, lines.size() - at));
    const auto lock = guard();
    auto tx = Transaction::begin(db);
    if (!tx) return tx.error();
    // Lines of a recording no longer in the index (deleted between two of a long recording's
    // transactions) would be found by nothing and deleted by nothing; lines of a run that a
    // reindex superseded would be there twice.
    auto now = textGeneration(db, sessionId);
    if (!now) return now.error();
    if (*now != generation) {
      return fail(ErrorCode::conflict,
                  "the text of recording " + sessionId + " is being indexed again by another run");
    }
    RecordingIndex index(db);
    if (auto st = index.addLines(sessionId, chunk); !st) return st;
    at += chunk.size();
    if (at == lines.size()) {
      if (auto st = index.setTextIndexed(sessionId, true); !st) return st;
    }
    if (auto st = tx->commit(); !st) return st;
  } while (at < lines.size());
  return core::Done{};
}

}  // namespace conduit::store
