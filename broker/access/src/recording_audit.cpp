#include "conduit/access/recording_audit.hpp"

#include <sodium.h>

#include <cstdio>
#include <optional>

#include "conduit/access/audit_details.hpp"
#include "conduit/access/recording_keys.hpp"
#include "conduit/core/session_id.hpp"
#include "conduit/recorder/export.hpp"
#include "conduit/recorder/reader.hpp"
#include "conduit/recorder/screen.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/recording_index.hpp"

namespace conduit::access {

using core::ErrorCode;
using core::fail;

namespace {

std::string hex(std::span<const unsigned char> b) {
  std::string out(b.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), b.data(), b.size());
  out.pop_back();
  return out;
}

/// The manifest digest the audit chain anchored for this session, if any.
core::Result<std::string> anchoredDigest(store::Database& db, const std::string& id) {
  auto events = store::AuditLog(db).list();
  if (!events) return events.error();
  for (auto it = events->rbegin(); it != events->rend(); ++it) {
    if (it->draft.type == "recording.sealed" && it->draft.target == "session:" + id) {
      const auto& d = it->draft.details;
      const auto p = d.find("\"manifest_blake2b\":\"");
      if (p != std::string::npos) return d.substr(p + 20, 64);
    }
  }
  return fail(ErrorCode::not_found, "no recording.sealed event for session " + id);
}

/// The caller's stream-key wrapper (an auditor's key), or the broker's own from the vault,
/// kept alive in `own`.
core::Result<const recorder::StreamKeyWrapper*> streamKeys(
    VaultService& vault, const recorder::StreamKeyWrapper* given,
    std::unique_ptr<VaultStreamKeyWrapper>& own) {
  if (given != nullptr) return given;
  auto keys = openRecordingKeys(vault);
  if (!keys) return keys.error();
  own = std::move(keys->wrapper);
  return static_cast<const recorder::StreamKeyWrapper*>(own.get());
}

/// Audits an export before any byte leaves: an export that cannot be logged does not happen.
core::Status auditExport(store::Database& db, const core::Clock& clock, const Actor& actor,
                         const std::string& id, std::string details) {
  auto tx = store::Transaction::begin(db);
  if (!tx) return tx.error();
  auto e =
      store::AuditLog(db).append({actor.username, actor.source, "audit", "recording.exported",
                                  "session:" + id, core::AuditOutcome::success, std::move(details)},
                                 clock.now());
  if (!e) return e.error();
  return tx->commit();
}

}  // namespace

core::Result<std::filesystem::path> RecordingAuditService::file(const std::string& id) const {
  if (!core::isSessionId(id)) return fail(ErrorCode::invalid_argument, "not a session id");
  auto path = dir_ / (id + ".crec");
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return fail(ErrorCode::not_found, "no recording for session " + id);
  }
  return path;
}

core::Result<RecordingVerdict> RecordingAuditService::verify(const std::string& id) {
  auto path = file(id);
  if (!path) return path.error();
  auto keys = openRecordingKeys(vault_);
  if (!keys) return keys.error();
  auto signer = recordingSignerPublicKey(db_);
  if (!signer) return signer.error();
  const recorder::StreamKeyWrapper* wrappers[] = {keys->wrapper.get()};
  const auto report = recorder::verifyRecording(*path, wrappers, *signer);
  const auto anchored = anchoredDigest(db_, id);
  RecordingVerdict v;
  v.verdict = std::string(recorder::verdictName(report.status.verdict));
  v.message = report.status.message;
  v.records = report.records;
  v.anchored = anchored && *anchored == hex(report.manifestDigest);
  v.anchorDetail = v.anchored ? "matches the audit chain"
                   : anchored ? "MISMATCH: the audit chain anchored another manifest"
                              : anchored.error().message;
  return v;
}

PreparedExport::PreparedExport(PreparedExport&&) noexcept = default;
PreparedExport& PreparedExport::operator=(PreparedExport&&) noexcept = default;
PreparedExport::~PreparedExport() = default;

core::Result<std::string> PreparedExport::writeTo(std::ostream& out) const {
  const recorder::StreamKeyWrapper* wrappers[] = {wrapper_};
  recorder::RecordingReader reader(path_, wrappers);
  if (fromUs_) {
    std::optional<recorder::TerminalScreen> screen;
    std::string how = "read from the start";
    if (seek_) {
      if (reader.seek({seek_->messageIndex, seek_->atUs, seek_->offset})) {
        screen = recorder::TerminalScreen::parse(seek_->screen);
        char buf[96];
        std::snprintf(buf, sizeof buf, "read from the seek point at %.3f s (message %ju)",
                      static_cast<double>(seek_->atUs) / 1e6,
                      static_cast<std::uintmax_t>(seek_->messageIndex));
        how = buf;
      } else {
        // The index does not match the file: the export is still right from the start, only
        // slower; the mismatch is for `recording verify` to explain.
        how = "read from the start (" + reader.status().message + ")";
        reader = recorder::RecordingReader(path_, wrappers);
      }
    }
    recorder::AsciicastOptions options;
    options.fromUs = *fromUs_;
    options.startScreen = screen ? &*screen : nullptr;
    recorder::exportAsciicast(reader, out, options);
    return std::string(recorder::verdictName(reader.status().verdict)) + ", " + how;
  }
  if (format_ == "cast") {
    recorder::exportAsciicast(reader, out);
  } else if (format_ == "jsonl") {
    recorder::exportJsonl(reader, out);
  } else if (format_ == "pcap") {
    recorder::exportPcap(reader, out);
  } else if (format_ == "files") {
    recorder::exportFileEvents(reader, out);
  } else if (format_ == "mp4") {
    if (auto summary = recorder::exportVideo(reader, out); !summary) return summary.error();
  } else if (auto summary = recorder::exportDesktop(reader, out); !summary) {
    return summary.error();
  }
  return std::string(recorder::verdictName(reader.status().verdict));
}

core::Result<PreparedExport> RecordingAuditService::startExport(
    const std::string& id, const std::string& format,
    const recorder::StreamKeyWrapper* wrapper) const {
  auto path = file(id);
  if (!path) return path.error();
  PreparedExport job;
  auto keys = streamKeys(vault_, wrapper, job.own_);
  if (!keys) return keys.error();
  job.wrapper_ = *keys;
  job.path_ = std::move(*path);
  job.format_ = format;
  return job;
}

core::Result<PreparedExport> RecordingAuditService::prepareExport(
    const Actor& actor, const std::string& id, const std::string& format,
    const recorder::StreamKeyWrapper* wrapper) {
  const bool desktop = format == "desktop" || format == "mp4";
  if (format != "cast" && format != "jsonl" && format != "pcap" && format != "files" && !desktop) {
    return fail(ErrorCode::invalid_argument,
                "format must be cast, jsonl, pcap, desktop, files or mp4");
  }
  auto started = startExport(id, format, wrapper);
  if (!started) return started.error();
  PreparedExport job = std::move(*started);
  // A desktop export of a terminal session is refused before it is audited: no export happens.
  // An RDP recording's first tile follows its start within its first records.
  if (desktop) {
    const recorder::StreamKeyWrapper* wrappers[] = {job.wrapper_};
    recorder::RecordingReader probe(job.path_, wrappers);
    if (!recorder::hasDesktop(probe)) {
      return fail(ErrorCode::invalid_argument, "not an RDP recording");
    }
  }
  if (auto st = auditExport(db_, clock_, actor, id, auditDetails({{"format", format}})); !st) {
    return st.error();
  }
  return job;
}

core::Result<std::string> RecordingAuditService::exportTo(
    const Actor& actor, const std::string& id, const std::string& format, std::ostream& out,
    const recorder::StreamKeyWrapper* wrapper) {
  auto job = prepareExport(actor, id, format, wrapper);
  if (!job) return job.error();
  return job->writeTo(out);
}

core::Result<PreparedExport> RecordingAuditService::prepareCastFrom(
    const Actor& actor, const std::string& id, std::uint64_t fromUs,
    const recorder::StreamKeyWrapper* wrapper) {
  auto started = startExport(id, "cast", wrapper);
  if (!started) return started.error();
  PreparedExport job = std::move(*started);
  job.fromUs_ = fromUs;
  if (auto st = auditExport(db_, clock_, actor, id,
                            auditDetails({{"format", std::string("cast")},
                                          {"from_us", static_cast<std::int64_t>(fromUs)}}));
      !st) {
    return st.error();
  }
  auto point = store::RecordingIndex(db_).seekPointBefore(id, fromUs);
  if (!point) return point.error();
  if (*point) {
    const auto& p = **point;
    job.seek_ = PreparedExport::SeekFrom{p.messageIndex, p.atUs, p.offset, p.screen};
  }
  return job;
}

core::Result<std::string> RecordingAuditService::exportCastFrom(
    const Actor& actor, const std::string& id, std::uint64_t fromUs, std::ostream& out,
    const recorder::StreamKeyWrapper* wrapper) {
  auto job = prepareCastFrom(actor, id, fromUs, wrapper);
  if (!job) return job.error();
  return job->writeTo(out);
}

core::Result<std::size_t> RecordingAuditService::reindex(const Actor& actor,
                                                         const std::string& id) {
  auto path = file(id);
  if (!path) return path.error();
  store::RecordingIndex index(db_);
  if (auto e = index.entry(id); !e) return e.error();
  std::unique_ptr<VaultStreamKeyWrapper> own;
  auto keys = streamKeys(vault_, nullptr, own);
  if (!keys) return keys.error();
  const recorder::StreamKeyWrapper* wrappers[] = {*keys};
  recorder::RecordingReader reader(*path, wrappers);
  auto indexed = recorder::indexRecording(reader);
  // A recording that cannot be read (wrong key, damaged, gone) keeps the text it has: replaced
  // by what little was read, it would look complete. A crashed one's readable part is all of it.
  const auto verdict = indexed.source.verdict;
  if (verdict != recorder::Verdict::intact && verdict != recorder::Verdict::truncated) {
    return fail(
        ErrorCode::unavailable,
        "cannot read recording " + id + ": " + std::string(recorder::verdictName(verdict)) +
            (indexed.source.message.empty() ? std::string() : ": " + indexed.source.message));
  }
  std::vector<std::pair<std::uint64_t, std::string>> lines;
  lines.reserve(indexed.lines.size());
  for (auto& l : indexed.lines) lines.emplace_back(l.timeUs, std::move(l.text));
  std::int64_t generation = 0;
  {
    auto tx = store::Transaction::begin(db_);
    if (!tx) return tx.error();
    // A run still going (the broker indexing it after sealing) stops at its next transaction.
    auto g = index.startTextIndex(id);
    if (!g) return g.error();
    generation = *g;
    if (auto st = index.removeLines(id); !st) return st.error();
    auto e = store::AuditLog(db_).append(
        {actor.username, actor.source, "audit", "recording.reindexed", "session:" + id,
         core::AuditOutcome::success,
         auditDetails({{"lines", static_cast<std::int64_t>(lines.size())},
                       {"reader", std::string(recorder::verdictName(indexed.source.verdict))}})},
        clock_.now());
    if (!e) return e.error();
    if (auto st = tx->commit(); !st) return st.error();
  }
  // In the same transactions as at sealing; a run started before this one stops at its next.
  auto st = store::indexTextInChunks(
      db_, id, lines, store::kTextLinesPerTransaction,
      [] { return std::unique_lock<std::mutex>(); }, generation);
  if (!st) return st.error();
  return lines.size();
}

}  // namespace conduit::access
