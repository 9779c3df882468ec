#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "conduit/access/actor.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/core/result.hpp"
#include "conduit/recorder/keys.hpp"

namespace conduit::store {
class Database;
}

namespace conduit::access {

class VaultService;

/// A recording's verification for people and programs.
struct RecordingVerdict {
  std::string verdict;  // "intact", "truncated", "corrupt", ...
  std::string message;  // reader's detail, e.g. "truncated at 1.503 s"
  std::uint64_t records = 0;
  bool anchored = false;     // the audit chain anchored exactly this manifest
  std::string anchorDetail;  // why not, when not
  bool ok() const { return verdict == "intact" && anchored; }
};

class VaultStreamKeyWrapper;

/// An export decided and audited (RecordingAuditService::prepareExport), still to be written:
/// it holds the file and the key, not the database or the vault, so it can run while other
/// requests use those.
class PreparedExport {
 public:
  PreparedExport(PreparedExport&&) noexcept;
  PreparedExport& operator=(PreparedExport&&) noexcept;
  ~PreparedExport();

  /// Writes the export to out; returns the reader's verdict name ("intact", "truncated", ...;
  /// for a cast from a moment also how it was read), or the exporter's error.
  core::Result<std::string> writeTo(std::ostream& out) const;
  /// The recording file it reads.
  const std::filesystem::path& file() const { return path_; }

 private:
  friend class RecordingAuditService;
  PreparedExport() = default;
  std::filesystem::path path_;
  std::string format_;
  const recorder::StreamKeyWrapper* wrapper_ = nullptr;
  std::unique_ptr<VaultStreamKeyWrapper> own_;  // the broker's key, when no wrapper was given
  // A cast from a moment (format_ "cast" with fromUs_ set): the index's seek point before it.
  std::optional<std::uint64_t> fromUs_;
  struct SeekFrom {
    std::uint64_t messageIndex = 0;
    std::uint64_t atUs = 0;
    std::uint64_t offset = 0;
    std::string screen;
  };
  std::optional<SeekFrom> seek_;
};

/// What auditors do with recordings, shared by the CLI and the portal: find the file of a session
/// (ids are checked so they cannot walk out of the directory), verify it against the signed
/// manifest and the audit chain, and export it (audited).
class RecordingAuditService {
 public:
  RecordingAuditService(store::Database& db, VaultService& vault, const core::Clock& clock,
                        std::filesystem::path recordingsDir)
      : db_(db), vault_(vault), clock_(clock), dir_(std::move(recordingsDir)) {}

  /// invalid_argument for a malformed id, not_found if no recording exists.
  core::Result<std::filesystem::path> file(const std::string& sessionId) const;

  core::Result<RecordingVerdict> verify(const std::string& sessionId);

  /// Writes `format` ("cast", "jsonl", "pcap", "desktop", "files" or "mp4") to out, decrypting
  /// with `wrapper` or, when it is null, the broker's key from the vault. Audited as
  /// recording.exported. "mp4" writes the desktop's video frames (recorder::exportVideo,
  /// YUV4MPEG2) for the MP4 encoder the caller feeds from `out`. Returns the reader's verdict
  /// name; invalid_argument for an unknown format, a malformed id or (not audited) "not an RDP
  /// recording" for a desktop or mp4 export of another session.
  core::Result<std::string> exportTo(const Actor& actor, const std::string& sessionId,
                                     const std::string& format, std::ostream& out,
                                     const recorder::StreamKeyWrapper* wrapper = nullptr);

  /// exportTo in two steps: checks and audits now (the same errors), writes later with
  /// PreparedExport::writeTo. `wrapper`, when given, must outlive the result.
  core::Result<PreparedExport> prepareExport(const Actor& actor, const std::string& sessionId,
                                             const std::string& format,
                                             const recorder::StreamKeyWrapper* wrapper = nullptr);

  /// An asciicast that starts `fromUs` into the session on the screen shown then (audited as
  /// recording.exported with format cast and from_us). With a seek point before that moment in
  /// the index, only the recording from that segment on is read. Returns the reader's verdict
  /// and how it was read ("intact, read from the seek point at 45.000 s (message 12)").
  core::Result<std::string> exportCastFrom(const Actor& actor, const std::string& sessionId,
                                           std::uint64_t fromUs, std::ostream& out,
                                           const recorder::StreamKeyWrapper* wrapper = nullptr);
  /// exportCastFrom in two steps, as prepareExport.
  core::Result<PreparedExport> prepareCastFrom(const Actor& actor, const std::string& sessionId,
                                               std::uint64_t fromUs,
                                               const recorder::StreamKeyWrapper* wrapper = nullptr);

  /// Indexes a sealed recording's text again from its file (the broker's key from the vault),
  /// replacing what the index has: for a recording whose text index was cut short (search
  /// reports it). Audited as recording.reindexed before the index changes. Returns the lines
  /// indexed; not_found if the recording is unknown.
  core::Result<std::size_t> reindex(const Actor& actor, const std::string& sessionId);

 private:
  // The file and key of an export of `format` (nothing checked or audited yet).
  core::Result<PreparedExport> startExport(const std::string& sessionId, const std::string& format,
                                           const recorder::StreamKeyWrapper* wrapper) const;

  store::Database& db_;
  VaultService& vault_;
  const core::Clock& clock_;
  std::filesystem::path dir_;
};

}  // namespace conduit::access
