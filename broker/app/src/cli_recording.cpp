// `conduit recording list|verify|export`: what auditors run on session recordings.
#include <sodium.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli_context.hpp"
#include "conduit/access/audit_details.hpp"
#include "conduit/access/recording_audit.hpp"
#include "conduit/access/recording_keys.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/app/data_dir.hpp"
#include "conduit/app/secure_files.hpp"
#include "conduit/recorder/export.hpp"
#include "conduit/recorder/keys.hpp"
#include "conduit/recorder/reader.hpp"
#include "conduit/recorder/screen.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/recording_index.hpp"
#include "conduit/vault/secret.hpp"
#include "video_encoder.hpp"

namespace conduit::app {

namespace {

using core::ErrorCode;

std::string hex(std::span<const unsigned char> b) {
  std::string out(b.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), b.data(), b.size());
  out.pop_back();
  return out;
}

/// Reads a key pair file written by `recording auditor-keygen`.
core::Result<recorder::SealedBoxKeyWrapper> readAuditorKey(const std::string& file) {
  std::ifstream in(file);
  std::string line, pkHex, skHex;
  while (std::getline(in, line)) {
    if (line.rfind("public=", 0) == 0) pkHex = line.substr(7);
    if (line.rfind("secret=", 0) == 0) skHex = line.substr(7);
  }
  std::array<unsigned char, 32> pk{};
  vault::SecretBuffer sk = vault::SecretBuffer::allocate(32);
  std::size_t pkLen = 0, skLen = 0;
  if (sodium_hex2bin(pk.data(), pk.size(), pkHex.data(), pkHex.size(), nullptr, &pkLen, nullptr) !=
          0 ||
      sodium_hex2bin(sk.data(), sk.size(), skHex.data(), skHex.size(), nullptr, &skLen, nullptr) !=
          0 ||
      pkLen != 32 || skLen != 32) {
    sodium_memzero(skHex.data(), skHex.size());
    return core::fail(ErrorCode::invalid_argument, file + " is not an auditor key pair file");
  }
  sodium_memzero(skHex.data(), skHex.size());
  return recorder::SealedBoxKeyWrapper::forKeyPair(
      pk, std::span<const unsigned char, 32>(sk.data(), 32));
}

/// What `f` returns for the recordings of the data directory (its database and the unsealed
/// vault's keys), or why they cannot be opened.
template <class F>
auto withRecordingService(CliContext& ctx, F&& f)
    -> decltype(f(std::declval<access::RecordingAuditService&>())) {
  auto config = ctx.config();
  if (!config) return config.error();
  auto db = ctx.database();
  if (!db) return db.error();
  auto vault = ctx.vault();
  if (!vault) return vault.error();
  access::RecordingAuditService audits(**db, **vault, ctx.clock(),
                                       DataDirLayout{config->dataDir}.recordingsDir());
  return f(audits);
}

// `--format mp4`: the desktop's video frames through ffmpeg into `output` (VideoEncoder puts
// only a finished video there).
core::Status exportMp4(access::RecordingAuditService& audits, const access::Actor& actor,
                       const std::string& id, const std::string& output,
                       const recorder::StreamKeyWrapper* wrapper) {
  auto encoder = VideoEncoder::start(output);
  if (!encoder) return encoder.error();
  auto verdict = audits.exportTo(actor, id, "mp4", (*encoder)->input(), wrapper);
  // Always waited for: when the frames could not be written, ffmpeg's message says why.
  auto finished = (*encoder)->finish();
  if (!verdict && (verdict.error().code != ErrorCode::io || finished)) return verdict.error();
  if (!finished) return finished.error();  // the encoder removes its partial file
  std::printf("exported %s (mp4) to %s; reader: %s\n", id.c_str(), output.c_str(),
              verdict->c_str());
  return core::Done{};
}

}  // namespace

void addRecordingCommands(CLI::App& app, CliContext& ctx, int& exitCode) {
  auto* rec = app.add_subcommand("recording", "List, verify and export session recordings");
  rec->require_subcommand(1);
  ctx.addLocationOptions(*rec);
  struct Values {
    std::string id, format = "cast", output, now, auditorKey;
    bool release = false;
    double fromSeconds = -1;  // unset
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
    // A recording whose text index was cut short (the broker stopped while indexing it) may
    // hold the text without being listed: said, so that "no session matches" is not taken
    // for more than it is.
    auto incomplete = store::RecordingIndex(**db).textIncomplete();
    if (!incomplete) {
      exitCode = fail(incomplete.error());
      return;
    }
    for (const auto& r : *incomplete) {
      std::printf(
          "note: the text index of %s is incomplete; `conduit recording reindex %s` "
          "completes it\n",
          r.sessionId.c_str(), r.sessionId.c_str());
    }
    exitCode = 0;
  });

  auto* reindex = rec->add_subcommand(
      "reindex", "Index a recording's terminal text and commands again from its file (audited)");
  reindex->add_option("session", values->id, "Session id")->required();
  reindex->callback([&ctx, &exitCode, values] {
    auto run = [&]() -> core::Status {
      return withRecordingService(ctx, [&](access::RecordingAuditService& audits) -> core::Status {
        auto n = audits.reindex(ctx.actor(), values->id);
        if (!n) return n.error();
        std::printf("recording %s: %zu line(s) indexed\n", values->id.c_str(), *n);
        return core::Done{};
      });
    };
    auto st = run();
    exitCode = st ? 0 : fail(st.error());
  });

  auto* keygen = rec->add_subcommand(
      "auditor-keygen", "Make an auditors' X25519 key pair (recordings are also sealed to it)");
  keygen->add_option("--output", values->output, "File for the key pair (written 0600)")
      ->required();
  keygen->callback([&exitCode, values] {
    auto [pk, sk] = recorder::generateAuditorKeyPair();
    const std::string text = "public=" + hex(pk) + "\nsecret=" + hex(sk.reveal()) + "\n";
    if (auto st = writeNewFile(values->output, text, 0600); !st) {
      exitCode = fail(st.error());
      return;
    }
    std::printf(
        "auditor key pair in %s; give the broker only the public key:\n"
        "[recording]\nauditor_public_key = \"%s\"\n",
        values->output.c_str(), hex(pk).c_str());
    exitCode = 0;
  });

  auto* hold = rec->add_subcommand("hold", "Put a recording under legal hold (never deleted)");
  hold->add_option("session", values->id, "Session id")->required();
  hold->add_flag("--release", values->release, "Release the hold instead");
  hold->callback([&ctx, &exitCode, values] {
    auto run = [&]() -> core::Status {
      auto db = ctx.database();
      if (!db) return db.error();
      auto tx = store::Transaction::begin(**db);
      if (!tx) return tx.error();
      if (auto st = store::RecordingIndex(**db).setLegalHold(values->id, !values->release); !st) {
        return st;
      }
      auto e = store::AuditLog(**db).append(
          {ctx.actor().username, "cli", "audit",
           values->release ? "recording.hold_released" : "recording.held", "session:" + values->id,
           core::AuditOutcome::success, "{}"},
          ctx.clock().now());
      if (!e) return e.error();
      if (auto st = tx->commit(); !st) return st;
      std::printf("recording %s %s\n", values->id.c_str(),
                  values->release ? "released from legal hold" : "under legal hold");
      return core::Done{};
    };
    auto st = run();
    exitCode = st ? 0 : fail(st.error());
  });

  auto* prune = rec->add_subcommand(
      "prune", "Delete recordings past recording.retention_days (not those under legal hold)");
  prune->add_option("--now", values->now,
                    "Judge age as if it were this time (drills and tests; audited like any prune)");
  prune->callback([&ctx, &exitCode, values] {
    auto run = [&]() -> core::Status {
      auto config = ctx.config();
      if (!config) return config.error();
      auto db = ctx.database();
      if (!db) return db.error();
      core::TimePoint now = ctx.clock().now();
      if (!values->now.empty()) {
        auto t = core::parseTime(values->now);
        if (!t) return core::fail(ErrorCode::invalid_argument, "cannot read --now");
        now = *t;
      }
      const auto cutoff =
          now - core::Seconds{std::int64_t{config->recording.retentionDays} * 86400};
      store::RecordingIndex index(**db);
      auto expired = index.expired(cutoff);
      if (!expired) return expired.error();
      const auto dir = DataDirLayout{config->dataDir}.recordingsDir();
      for (const auto& r : *expired) {
        // The audit event and the index row go in one transaction; the files go after it, so a
        // deletion is never unrecorded (a leftover file is reported, not hidden).
        auto tx = store::Transaction::begin(**db);
        if (!tx) return tx.error();
        if (auto st = index.remove(r.sessionId); !st) return st;
        auto e = store::AuditLog(**db).append(
            {ctx.actor().username, "cli", "audit", "recording.deleted", "session:" + r.sessionId,
             core::AuditOutcome::success,
             access::auditDetails(
                 {{"reason", "retention"},
                  {"retention_days", std::int64_t{config->recording.retentionDays}},
                  {"manifest_blake2b", r.manifestBlake2b}})},
            now);
        if (!e) return e.error();
        if (auto st = tx->commit(); !st) return st;
        std::error_code ec;
        std::filesystem::remove(dir / r.file, ec);
        std::filesystem::remove(dir / (r.file + ".manifest.json"), ec);
        std::printf("deleted %s (sealed %s)%s\n", r.sessionId.c_str(),
                    core::formatTime(r.sealedAt).c_str(),
                    ec ? (" but a file remains: " + ec.message()).c_str() : "");
      }
      std::printf("%zu recording(s) past %d days deleted\n", expired->size(),
                  config->recording.retentionDays);
      return core::Done{};
    };
    auto st = run();
    exitCode = st ? 0 : fail(st.error());
  });

  auto* verify = rec->add_subcommand(
      "verify", "Check every message, the signed manifest and its anchor in the audit chain");
  verify->add_option("session", values->id, "Session id")->required();
  verify->callback([&ctx, &exitCode, values] {
    auto run = [&]() -> core::Result<bool> {
      return withRecordingService(
          ctx, [&](access::RecordingAuditService& audits) -> core::Result<bool> {
            auto v = audits.verify(values->id);
            if (!v) return v.error();
            std::printf("recording %s: %s (%ju records)%s%s\n", values->id.c_str(),
                        v->verdict.c_str(), static_cast<std::uintmax_t>(v->records),
                        v->message.empty() ? "" : ": ", v->message.c_str());
            std::printf("audit anchor: %s\n", v->anchorDetail.c_str());
            return v->ok();
          });
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
  exp->add_option(
         "--format", values->format,
         "cast (asciinema), jsonl, pcap, desktop (RDP sessions, for the portal's player), "
         "mp4 (RDP sessions as H.264 video, through ffmpeg) or files (the files moved, as JSON)")
      ->check(CLI::IsMember({"cast", "jsonl", "pcap", "desktop", "mp4", "files"}))
      ->capture_default_str();
  exp->add_option("--output", values->output, "File to write")->required();
  exp->add_option("--auditor-key", values->auditorKey,
                  "Decrypt with the auditors' key pair file instead of the broker's vault");
  exp->add_option("--from", values->fromSeconds,
                  "Start the cast this many seconds into the session, on the screen shown then")
      ->check(CLI::NonNegativeNumber);
  exp->callback([&ctx, &exitCode, values] {
    auto run = [&]() -> core::Status {
      auto config = ctx.config();
      if (!config) return config.error();
      auto db = ctx.database();
      if (!db) return db.error();
      std::unique_ptr<recorder::StreamKeyWrapper> wrapper;
      if (!values->auditorKey.empty()) {
        auto pair = readAuditorKey(values->auditorKey);
        if (!pair) return pair.error();
        wrapper = std::make_unique<recorder::SealedBoxKeyWrapper>(std::move(*pair));
      }
      // With the auditors' key the vault is not needed (and may be sealed or gone).
      std::optional<access::VaultService> noVault;
      access::VaultService* vault = nullptr;
      if (!wrapper) {
        auto v = ctx.vault();
        if (!v) return v.error();
        vault = *v;
      } else {
        vault = &noVault.emplace(**db, ctx.clock());
      }
      access::RecordingAuditService audits(**db, *vault, ctx.clock(),
                                           DataDirLayout{config->dataDir}.recordingsDir());
      if (auto f = audits.file(values->id); !f) return f.error();
      if (values->fromSeconds >= 0 && values->format != "cast") {
        return core::fail(ErrorCode::invalid_argument, "--from works with --format cast only");
      }
      if (values->format == "mp4") {
        return exportMp4(audits, ctx.actor(), values->id, values->output, wrapper.get());
      }
      std::ofstream out(values->output, std::ios::binary | std::ios::trunc);
      if (!out) return core::fail(ErrorCode::unavailable, "cannot write " + values->output);
      auto verdict =
          values->fromSeconds >= 0
              ? audits.exportCastFrom(
                    ctx.actor(), values->id,
                    static_cast<std::uint64_t>(std::llround(values->fromSeconds * 1e6)), out,
                    wrapper.get())
              : audits.exportTo(ctx.actor(), values->id, values->format, out, wrapper.get());
      if (!verdict) {
        // Nothing was exported (e.g. a desktop export of a terminal session): no empty file.
        out.close();
        std::error_code ec;
        std::filesystem::remove(values->output, ec);
        return verdict.error();
      }
      out.flush();
      if (!out) return core::fail(ErrorCode::io, "writing " + values->output + " failed");
      std::printf("exported %s (%s) to %s; reader: %s\n", values->id.c_str(),
                  values->format.c_str(), values->output.c_str(), verdict->c_str());
      return core::Done{};
    };
    auto st = run();
    exitCode = st ? 0 : fail(st.error());
  });
}

}  // namespace conduit::app
