// The audit trail and session recordings for auditors (docs/api.md "Audit and recordings").
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <ext/stdio_filebuf.h>
#include <map>
#include <optional>

#include "api_state.hpp"
#include "conduit/core/session_id.hpp"
#include "conduit/store/access_repository.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/portal_repository.hpp"
#include "conduit/store/recording_index.hpp"

namespace conduit::portal {

namespace {

boost::json::value eventJson(const core::AuditEvent& e) {
  boost::system::error_code ec;
  auto details = boost::json::parse(e.draft.details, ec);
  if (ec) details = e.draft.details;  // shown as text rather than dropped
  return boost::json::object{{"id", e.seq},
                             {"time", isoTime(e.time)},
                             {"actor", e.draft.actor},
                             {"source", e.draft.source},
                             {"category", e.draft.category},
                             {"type", e.draft.type},
                             {"target", e.draft.target},
                             {"outcome", core::auditOutcomeName(e.draft.outcome)},
                             {"details", std::move(details)}};
}

/// A recording with what the session registry knows of its session (times and sizes).
boost::json::value recordingJson(const store::RecordingEntry& e,
                                 const std::optional<store::SessionRow>& session) {
  boost::json::object o{{"session_id", e.sessionId},
                        {"user", e.user},
                        {"asset", e.asset},
                        {"sealed_at", isoTime(e.sealedAt)},
                        {"text_indexed", e.textIndexed}};
  o["started_at"] = session ? boost::json::value(isoTime(session->startedAt)) : nullptr;
  o["ended_at"] = session && session->endedAt ? boost::json::value(isoTime(*session->endedAt))
                                              : boost::json::value(nullptr);
  o["protocol"] = session ? boost::json::value(session->protocol) : nullptr;
  o["bytes_to_target"] = session ? session->bytesToTarget : 0;
  o["bytes_to_vendor"] = session ? session->bytesToVendor : 0;
  o["end_reason"] = session ? session->endReason : std::string();
  return o;
}

core::Status auditorOrAdmin(const Caller& c) {
  return requireRole(c, {core::Role::auditor, core::Role::admin});
}

// Writes a prepared export into an unlinked temporary file in the recordings' directory (the
// broker's own: the export is decrypted session content) and answers with it as a download of
// `fileName`, sent from disk, so memory stays flat however long the session was.
HttpResponse exportResponse(const access::PreparedExport& job, const char* contentType,
                            const std::string& fileName) {
  std::string name = (job.file().parent_path() / ".export-XXXXXX").string();
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) {
    return errorResponse(
        core::Error{core::ErrorCode::io, "cannot make a temporary file for the export"});
  }
  ::unlink(name.c_str());
  auto file = std::make_shared<BodyFile>(fd);
  const int writeFd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (writeFd < 0)
    return errorResponse(core::Error{core::ErrorCode::io, "cannot write the export"});
  // libstdc++'s file buffer over the descriptor (it closes writeFd).
  __gnu_cxx::stdio_filebuf<char> buffer(writeFd, std::ios::out | std::ios::binary, 1 << 16);
  std::ostream out(&buffer);
  auto verdict = job.writeTo(out);
  out.flush();
  const bool written = static_cast<bool>(out) && buffer.close() != nullptr;
  if (!verdict) return errorResponse(verdict.error());
  if (!written) {
    return errorResponse(core::Error{core::ErrorCode::io, "cannot write the export (disk full?)"});
  }
  HttpResponse res{200, contentType, {}, {}, std::move(file)};
  res.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + fileName + "\"");
  res.headers.emplace_back("X-Conduit-Verdict", *verdict);
  return res;
}

}  // namespace

void addAuditRoutes(Router& router, ApiState& s) {
  router.add("GET", "/api/v1/audit", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    if (auto st = auditorOrAdmin(*caller); !st) return errorResponse(st.error());
    const std::string category = queryParam(r, "category");
    const std::string actor = queryParam(r, "actor");
    std::int64_t limit = 200;
    if (const auto l = queryParam(r, "limit"); !l.empty()) {
      if (l.size() > 5 || l.find_first_not_of("0123456789") != std::string::npos) {
        return jsonError(400, "bad_request", "limit must be a number from 1 to 1000");
      }
      limit = std::stoll(l);
      if (limit < 1 || limit > 1000) {
        return jsonError(400, "bad_request", "limit must be a number from 1 to 1000");
      }
    }
    auto events = store::AuditLog(s.db).list();
    if (!events) return errorResponse(events.error());
    boost::json::array out;
    for (auto it = events->rbegin(); it != events->rend() && std::ssize(out) < limit; ++it) {
      if (!category.empty() && it->draft.category != category) continue;
      if (!actor.empty() && it->draft.actor != actor) continue;
      out.push_back(eventJson(*it));
    }
    return jsonResponse(200, out);
  });

  router.add("GET", "/api/v1/audit/verify", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    if (auto st = auditorOrAdmin(*caller); !st) return errorResponse(st.error());
    store::AuditLog log(s.db);
    auto broken = log.verify();
    if (!broken) return errorResponse(broken.error());
    auto count = log.count();
    if (!count) return errorResponse(count.error());
    const bool ok = !broken->has_value();
    return jsonResponse(
        200,
        boost::json::object{{"ok", ok},
                            {"events", *count},
                            {"message", ok ? "the audit chain is intact"
                                           : "broken at event " + std::to_string((*broken)->seq) +
                                                 ": " + (*broken)->why}});
  });

  router.add("GET", "/api/v1/recordings", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    if (auto st =
            requireRole(*caller, {core::Role::auditor, core::Role::admin, core::Role::engineer});
        !st) {
      return errorResponse(st.error());
    }
    const std::string q = queryParam(r, "q");
    const std::string user = queryParam(r, "user");
    const std::string asset = queryParam(r, "asset");
    const std::string vendor = queryParam(r, "vendor");
    std::optional<core::TimePoint> from, to;  // the session's time span must touch [from, to)
    for (auto [key, out] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
      const std::string text = queryParam(r, key);
      if (text.empty()) continue;
      *out = core::parseTime(text);
      if (!*out) return jsonError(400, "bad_request", std::string(key) + " must be a time");
    }
    std::map<std::string, std::string> vendorOf;  // user -> vendor organisation name
    store::RecordingIndex index(s.db);
    std::vector<store::RecordingEntry> entries;
    std::map<std::string, std::string> firstLine;
    if (!q.empty()) {
      auto hits = index.search(q);
      if (!hits) return errorResponse(hits.error());
      for (auto it = hits->rbegin(); it != hits->rend(); ++it) {
        firstLine[it->recording.sessionId] = it->line;
        entries.push_back(it->recording);
      }
    } else {
      auto recent = index.recent(500);
      if (!recent) return errorResponse(recent.error());
      entries = std::move(*recent);
    }
    const bool seesAll =
        caller->user.hasRole(core::Role::auditor) || caller->user.hasRole(core::Role::admin);
    store::AccessRepository repo(s.db);
    std::map<std::string, std::string> owners;
    boost::json::array out;
    for (const auto& e : entries) {
      if (!user.empty() && e.user != user) continue;
      if (!asset.empty() && e.asset != asset) continue;
      if (!seesAll) {
        if (!owners.contains(e.asset)) {
          auto a = repo.assetByName(e.asset);
          owners[e.asset] = a ? a->ownerGroup : std::string();
        }
        if (!caller->user.inGroup(owners[e.asset])) continue;
      }
      if (!vendor.empty()) {
        if (!vendorOf.contains(e.user)) {
          auto u = repo.userByName(e.user);
          vendorOf[e.user] = u && u->vendorId ? u->vendorName : std::string();
        }
        if (vendorOf[e.user] != vendor) continue;
      }
      auto row = store::SessionRepository(s.db).session(e.sessionId);
      const core::TimePoint started = row ? row->startedAt : e.sealedAt;
      const core::TimePoint ended = row && row->endedAt ? *row->endedAt : e.sealedAt;
      if (from && ended < *from) continue;
      if (to && started >= *to) continue;
      auto o =
          recordingJson(e, row ? std::optional<store::SessionRow>(std::move(*row)) : std::nullopt);
      if (auto it = firstLine.find(e.sessionId); it != firstLine.end()) {
        o.as_object()["match"] = it->second;
      }
      out.push_back(std::move(o));
    }
    return jsonResponse(200, out);
  });

  router.add("GET", "/api/v1/recordings/{id}/verify", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    if (auto st = auditorOrAdmin(*caller); !st) return errorResponse(st.error());
    auto v = s.recordings.verify(r.param("id"));
    if (!v) {
      if (v.error().code == core::ErrorCode::invalid_argument) {
        return jsonError(404, "not_found", "no such recording");
      }
      return errorResponse(v.error());
    }
    return jsonResponse(200, boost::json::object{{"session_id", r.param("id")},
                                                 {"ok", v->ok()},
                                                 {"verdict", v->verdict},
                                                 {"detail", v->message},
                                                 {"records", v->records},
                                                 {"anchored", v->anchored},
                                                 {"anchor", v->anchorDetail}});
  });

  router.add("GET", "/api/v1/audit/export", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    if (auto st = auditorOrAdmin(*caller); !st) return errorResponse(st.error());
    std::optional<core::TimePoint> since, until;
    for (auto [key, out] : {std::pair{"since", &since}, std::pair{"until", &until}}) {
      const std::string text = queryParam(r, key);
      if (text.empty()) continue;
      *out = core::parseTime(text);
      if (!*out) return jsonError(400, "bad_request", std::string(key) + " must be a time");
    }
    store::AuditLog log(s.db);
    // Audited first: an export that cannot be logged does not happen.
    {
      auto tx = store::Transaction::begin(s.db);
      if (!tx) return errorResponse(tx.error());
      auto e = log.append({caller->actor.username, caller->actor.source, "audit", "audit.exported",
                           "audit", core::AuditOutcome::success, "{}"},
                          s.clock.now());
      if (!e) return errorResponse(e.error());
      if (auto st = tx->commit(); !st) return errorResponse(st.error());
    }
    auto events = log.list(since, until);
    if (!events) return errorResponse(events.error());
    std::string body;
    for (const auto& e : *events) body += store::auditEventJsonLine(e) + "\n";
    HttpResponse res{200, "application/x-ndjson", std::move(body), {}, {}};
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"audit.jsonl\"");
    return res;
  });

  router.add("GET", "/api/v1/recordings/{id}/export", [&s](const HttpRequest& r) {
    std::unique_lock lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    if (auto st = auditorOrAdmin(*caller); !st) return errorResponse(st.error());
    const std::string format = queryParam(r, "format");
    struct Kind {
      const char* format;
      const char* type;
      const char* ext;
    };
    static constexpr Kind kinds[] = {{"cast", "application/x-asciicast", "cast"},
                                     {"jsonl", "application/x-ndjson", "jsonl"},
                                     {"pcap", "application/vnd.tcpdump.pcap", "pcap"},
                                     {"desktop", "application/octet-stream", "cdsk"},
                                     {"files", "application/json", "files.json"}};
    const Kind* kind = nullptr;
    for (const auto& k : kinds) {
      if (format == k.format) kind = &k;
    }
    if (!kind) {
      return jsonError(400, "bad_request", "format must be cast, jsonl, pcap, desktop or files");
    }
    auto job = s.recordings.prepareExport(caller->actor, r.param("id"), kind->format);
    if (!job) {
      // A malformed id names no recording; for a well-formed one, invalid_argument is a format
      // that does not fit (desktop of a terminal session): a 400 that says so.
      if (job.error().code == core::ErrorCode::invalid_argument &&
          !core::isSessionId(r.param("id"))) {
        return jsonError(404, "not_found", "no such recording");
      }
      return errorResponse(job.error());
    }
    // Decided and audited: the export itself needs neither the database nor the vault, so the
    // other requests go on while a long session is read (an hour of a busy desktop is gigabytes).
    lock.unlock();
    return exportResponse(*job, kind->type, r.param("id") + "." + kind->ext);
  });

  router.add("GET", "/api/v1/recordings/{id}/cast", [&s](const HttpRequest& r) {
    std::unique_lock lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    if (auto st = auditorOrAdmin(*caller); !st) return errorResponse(st.error());
    // ?from=SECONDS: the cast starts that far into the session, on the screen shown then.
    const std::string from = queryParam(r, "from");
    std::optional<std::uint64_t> fromUs;
    if (!from.empty()) {
      double seconds = -1;
      const auto [end, ec] = std::from_chars(from.data(), from.data() + from.size(), seconds);
      if (ec != std::errc() || end != from.data() + from.size() || !(seconds >= 0) ||
          seconds > 1e7) {
        return jsonError(400, "bad_request", "from must be a number of seconds, 0 or more");
      }
      fromUs = static_cast<std::uint64_t>(std::llround(seconds * 1e6));
    }
    auto job = fromUs ? s.recordings.prepareCastFrom(caller->actor, r.param("id"), *fromUs)
                      : s.recordings.prepareExport(caller->actor, r.param("id"), "cast");
    if (!job) {
      if (job.error().code == core::ErrorCode::invalid_argument) {
        return jsonError(404, "not_found", "no such recording");
      }
      return errorResponse(job.error());
    }
    lock.unlock();  // as the export route: read outside the API's lock, sent from disk
    return exportResponse(*job, "application/x-asciicast", r.param("id") + ".cast");
  });
}

}  // namespace conduit::portal
