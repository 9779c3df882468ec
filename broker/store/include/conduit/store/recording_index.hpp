#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "conduit/core/clock.hpp"
#include "conduit/core/result.hpp"

namespace conduit::store {

class Database;

/// A sealed recording as the index knows it.
struct RecordingEntry {
  std::string sessionId;
  std::string file;
  std::string user;
  std::string asset;
  core::TimePoint sealedAt{};
  std::string manifestBlake2b;
  bool textIndexed = true;  // every line of its text is in the search index
};

/// One search hit: a session and the first matching line.
struct RecordingHit {
  RecordingEntry recording;
  std::uint64_t atUs = 0;  // microseconds into the session
  std::string line;
  std::int64_t matches = 0;
};

/// A place in a recording to start reading from (a segment start; recorder::SeekPoint) and the
/// terminal screen there.
struct RecordingSeekPoint {
  std::uint64_t messageIndex = 0;
  std::uint64_t atUs = 0;    // time of the segment's first record, microseconds into the session
  std::uint64_t offset = 0;  // byte offset in the .crec file
  std::string screen;        // recorder::TerminalScreen::serialize(), or empty
};

/// Sealed recordings and the SQLite FTS5 index over their text. Transactions are the caller's.
class RecordingIndex {
 public:
  explicit RecordingIndex(Database& db) : db_(db) {}

  /// Records a sealed recording and indexes its lines ({time in us, text}).
  core::Status add(const RecordingEntry& entry,
                   const std::vector<std::pair<std::uint64_t, std::string>>& lines);
  /// Indexes more lines of a recording already added (a long recording's text goes in in
  /// several transactions: indexTextInChunks()).
  core::Status addLines(const std::string& sessionId,
                        std::span<const std::pair<std::uint64_t, std::string>> lines);

  /// Starts (again) indexing a recording's text: marks it incomplete and returns the new
  /// generation for indexTextInChunks(), which stops any run started before. not_found if
  /// unknown.
  core::Result<std::int64_t> startTextIndex(const std::string& sessionId);
  /// Marks whether every line of a recording's text is in the index. not_found if unknown.
  core::Status setTextIndexed(const std::string& sessionId, bool complete);
  /// Drops a recording's indexed text (before it is indexed again).
  core::Status removeLines(const std::string& sessionId);
  /// Recordings whose text index is incomplete, oldest first.
  core::Result<std::vector<RecordingEntry>> textIncomplete();

  /// Stores a sealed recording's seek points (after add()). invalid_argument unless their
  /// message indexes, times and offsets all increase (times may repeat).
  core::Status addSeekPoints(const std::string& sessionId,
                             const std::vector<RecordingSeekPoint>& points);
  /// The last seek point whose time is before `atUs` (so no record at or after `atUs` lies
  /// before it), or nullopt: then read from the start.
  core::Result<std::optional<RecordingSeekPoint>> seekPointBefore(const std::string& sessionId,
                                                                  std::uint64_t atUs);
  /// All seek points of a recording, in file order.
  core::Result<std::vector<RecordingSeekPoint>> seekPoints(const std::string& sessionId);

  /// Sessions whose text contains `text` (matched as a phrase, case-insensitive), oldest first.
  core::Result<std::vector<RecordingHit>> search(const std::string& text);

  /// Puts a recording under legal hold (never deleted) or releases it. not_found if unknown.
  core::Status setLegalHold(const std::string& sessionId, bool hold);
  /// Recordings sealed before `cutoff` and not under legal hold.
  core::Result<std::vector<RecordingEntry>> expired(core::TimePoint cutoff);
  /// The newest `limit` sealed recordings, newest first.
  core::Result<std::vector<RecordingEntry>> recent(std::int64_t limit);
  /// One recording; not_found if unknown.
  core::Result<RecordingEntry> entry(const std::string& sessionId);
  /// Forgets a recording, its indexed text and seek points (the caller deletes the files).
  core::Status remove(const std::string& sessionId);

 private:
  Database& db_;
};

/// Lines of a recording's text per transaction: a session that printed a large file has
/// millions of lines (about 2 us each to index), and one transaction for all of them would hold
/// the database (and the broker's lock around it) for seconds.
inline constexpr std::size_t kTextLinesPerTransaction = 20000;

/// Indexes a sealed recording's `lines` in transactions of `perTransaction` (> 0) lines, each
/// taken under `guard()` (the caller's lock; released between them, so that others get the
/// database), and marks its text complete in the last one. `generation` is what
/// startTextIndex() returned. not_found if the recording left the index meanwhile (deleted),
/// conflict if its indexing was started again since: nothing more is added.
core::Status indexTextInChunks(Database& db, const std::string& sessionId,
                               std::span<const std::pair<std::uint64_t, std::string>> lines,
                               std::size_t perTransaction,
                               const std::function<std::unique_lock<std::mutex>()>& guard,
                               std::int64_t generation);

}  // namespace conduit::store
