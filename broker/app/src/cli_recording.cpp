// `conduit recording list|verify|export`: what auditors run on session recordings.
#include <sodium.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli_context.hpp"
#include "conduit/access/audit_details.hpp"
#include "conduit/access/recording_keys.hpp"
#include "conduit/app/data_dir.hpp"
#include "conduit/recorder/export.hpp"
#include "conduit/recorder/reader.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/recording_index.hpp"

namespace conduit::app {

namespace {

using core::ErrorCode;

std::string hex(std::span<const unsigned char> b) {
  std::string out(b.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), b.data(), b.size());
  out.pop_back();
  return out;
}

/// Session ids are the broker's own ("ssh-<time>-<n>"): letters, digits and '-' only, so an id
/// can never walk out of the recordings directory.
core::Result<std::filesystem::path> recordingFile(const Config& config, const std::string& id) {
  if (id.empty() || id.size() > 128 ||
      id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") !=
          std::string::npos) {
    return core::fail(ErrorCode::invalid_argument, "not a session id: " + id);
  }
  auto file = DataDirLayout{config.dataDir}.recordingsDir() / (id + ".crec");
  if (!std::filesystem::exists(file)) {
    return core::fail(ErrorCode::not_found, "no recording for session " + id);
  }
  return file;
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
  return core::fail(ErrorCode::not_found, "no recording.sealed event for session " + id);
}

void auditExport(store::Database& db, const core::Clock& clock, const access::Actor& actor,
                 const std::string& id, const std::string& format) {
  auto tx = store::Transaction::begin(db);
  if (!tx) return;
  auto e = store::AuditLog(db).append(
      {actor.username, actor.source, "audit", "recording.exported", "session:" + id,
       core::AuditOutcome::success, access::auditDetails({{"format", format}})},
      clock.now());
  if (e) (void)tx->commit();
}

}  // namespace

void addRecordingCommands(CLI::App& app, CliContext& ctx, int& exitCode) {
  auto* rec = app.add_subcommand("recording", "List, verify and export session recordings");
  rec->require_subcommand(1);
  ctx.addLocationOptions(*rec);
  struct Values {
    std::string id, format = "cast", output;
  };
  auto values = std::make_shared<Values>();
  ctx.keepAlive(values);

  rec->add_subcommand("list", "List recordings")->callback([&ctx, &exitCode] {
    auto config = ctx.config();
    if (!config) {
      exitCode = fail(config.error());
      return;
    }
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& e :
         std::filesystem::directory_iterator(DataDirLayout{config->dataDir}.recordingsDir(), ec)) {
      if (e.path().extension() == ".crec") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::printf("%-32s %12ju bytes%s\n", f.stem().c_str(),
                  static_cast<std::uintmax_t>(std::filesystem::file_size(f, ec)),
                  std::filesystem::exists(f.string() + ".manifest.json") ? "" : "  (no manifest)");
    }
    exitCode = 0;
  });

  auto* search =
      rec->add_subcommand("search", "Sessions whose terminal text or commands contain TEXT");
  search->add_option("text", values->id, "Text to find (matched as a phrase)")->required();
  search->callback([&ctx, &exitCode, values] {
    auto db = ctx.database();
    if (!db) {
      exitCode = fail(db.error());
      return;
    }
    auto hits = store::RecordingIndex(**db).search(values->id);
    if (!hits) {
      exitCode = fail(hits.error());
      return;
    }
    for (const auto& h : *hits) {
      std::printf("%-28s %-10s %-12s sealed %s  %lld match(es), first at +%.1fs: %s\n",
                  h.recording.sessionId.c_str(), h.recording.user.c_str(),
                  h.recording.asset.c_str(), core::formatTime(h.recording.sealedAt).c_str(),
                  static_cast<long long>(h.matches), static_cast<double>(h.atUs) / 1e6,
                  h.line.substr(0, 80).c_str());
    }
    if (hits->empty()) std::printf("no session matches\n");
    exitCode = 0;
  });

  auto* verify = rec->add_subcommand(
      "verify", "Check every message, the signed manifest and its anchor in the audit chain");
  verify->add_option("session", values->id, "Session id")->required();
  verify->callback([&ctx, &exitCode, values] {
    auto run = [&]() -> core::Result<bool> {
      auto config = ctx.config();
      if (!config) return config.error();
      auto file = recordingFile(*config, values->id);
      if (!file) return file.error();
      auto db = ctx.database();
      if (!db) return db.error();
      auto vault = ctx.vault();
      if (!vault) return vault.error();
      auto keys = access::openRecordingKeys(**vault);
      if (!keys) return keys.error();
      auto signer = access::recordingSignerPublicKey(**db);
      if (!signer) return signer.error();
      const recorder::StreamKeyWrapper* wrappers[] = {keys->wrapper.get()};
      const auto report = recorder::verifyRecording(*file, wrappers, *signer);
      const auto anchored = anchoredDigest(**db, values->id);
      const bool intact = report.status.verdict == recorder::Verdict::intact;
      const bool anchorOk = anchored && *anchored == hex(report.manifestDigest);
      std::printf("recording %s: %s (%ju records)%s%s\n", values->id.c_str(),
                  std::string(recorder::verdictName(report.status.verdict)).c_str(),
                  static_cast<std::uintmax_t>(report.records),
                  report.status.message.empty() ? "" : ": ", report.status.message.c_str());
      std::printf("audit anchor: %s\n", anchorOk ? "matches the audit chain"
                                        : anchored
                                            ? "MISMATCH: the audit chain anchored another manifest"
                                            : anchored.error().message.c_str());
      return intact && anchorOk;
    };
    auto ok = run();
    if (!ok) {
      exitCode = fail(ok.error());
      return;
    }
    exitCode = *ok ? 0 : 4;
  });

  auto* exp = rec->add_subcommand("export", "Export a recording (audited)");
  exp->add_option("session", values->id, "Session id")->required();
  exp->add_option("--format", values->format, "cast (asciinema), jsonl or pcap")
      ->check(CLI::IsMember({"cast", "jsonl", "pcap"}))
      ->capture_default_str();
  exp->add_option("--output", values->output, "File to write")->required();
  exp->callback([&ctx, &exitCode, values] {
    auto run = [&]() -> core::Status {
      auto config = ctx.config();
      if (!config) return config.error();
      auto file = recordingFile(*config, values->id);
      if (!file) return file.error();
      auto db = ctx.database();
      if (!db) return db.error();
      auto vault = ctx.vault();
      if (!vault) return vault.error();
      auto keys = access::openRecordingKeys(**vault);
      if (!keys) return keys.error();
      const recorder::StreamKeyWrapper* wrappers[] = {keys->wrapper.get()};
      recorder::RecordingReader reader(*file, wrappers);
      std::ofstream out(values->output, std::ios::binary | std::ios::trunc);
      if (!out) return core::fail(ErrorCode::unavailable, "cannot write " + values->output);
      if (values->format == "cast") {
        recorder::exportAsciicast(reader, out);
      } else if (values->format == "jsonl") {
        recorder::exportJsonl(reader, out);
      } else {
        recorder::exportPcap(reader, out);
      }
      out.flush();
      if (!out) return core::fail(ErrorCode::io, "writing " + values->output + " failed");
      auditExport(**db, ctx.clock(), ctx.actor(), values->id, values->format);
      std::printf("exported %s (%s) to %s; reader: %s\n", values->id.c_str(),
                  values->format.c_str(), values->output.c_str(),
                  std::string(recorder::verdictName(reader.status().verdict)).c_str());
      return core::Done{};
    };
    auto st = run();
    exitCode = st ? 0 : fail(st.error());
  });
}

}  // namespace conduit::app
