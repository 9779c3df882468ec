// Live sessions and the kill switch (NERC CIP-005 R2.4, R2.5; docs/api.md "Live sessions").
#include <map>

#include "access_views.hpp"
#include "api_state.hpp"
#include "conduit/access/audit_details.hpp"
#include "conduit/core/session_id.hpp"
#include "conduit/session/live_hub.hpp"
#include "conduit/store/access_repository.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/portal_repository.hpp"

namespace conduit::portal {

using core::ErrorCode;
using core::fail;

namespace {

inline constexpr const char* kKillAllPhrase = "END ALL VENDOR SESSIONS";

boost::json::value sessionJson(const store::SessionRow& r) {
  boost::json::object o{{"id", r.id},
                        {"user", r.user},
                        {"asset", r.asset},
                        {"protocol", r.protocol},
                        {"source", r.source},
                        {"started_at", isoTime(r.startedAt)},
                        {"until", isoTime(r.until)},
                        {"end_reason", r.endReason},
                        {"bytes_to_target", r.bytesToTarget},
                        {"bytes_to_vendor", r.bytesToVendor}};
  o["grant_id"] = r.grantId ? boost::json::value(*r.grantId) : boost::json::value(nullptr);
  o["ended_at"] = r.endedAt ? boost::json::value(isoTime(*r.endedAt)) : boost::json::value(nullptr);
  return o;
}

/// Whether the caller may see a session: by the session user's vendor and the asset's group.
class SessionVisibility {
 public:
  SessionVisibility(store::AccessRepository& repo, const core::User& caller)
      : repo_(repo), caller_(caller) {}
  bool operator()(const store::SessionRow& r) {
    if (!vendors_.contains(r.user)) {
      auto u = repo_.userByName(r.user);
      vendors_[r.user] = u ? u->vendorId : std::nullopt;
    }
    return maySee(caller_, vendors_[r.user], ownerGroup(r.asset));
  }
  std::string ownerGroup(const std::string& asset) {
    if (!owners_.contains(asset)) {
      auto a = repo_.assetByName(asset);
      owners_[asset] = a ? a->ownerGroup : std::string();
    }
    return owners_[asset];
  }

 private:
  store::AccessRepository& repo_;
  const core::User& caller_;
  std::map<std::string, std::optional<std::int64_t>> vendors_;
  std::map<std::string, std::string> owners_;
};

core::Status auditKill(ApiState& s, const access::Actor& a, const std::string& type,
                       const std::string& target, const std::string& details) {
  auto tx = store::Transaction::begin(s.db);
  if (!tx) return tx.error();
  auto e = store::AuditLog(s.db).append(
      {a.username, a.source, "session", type, target, core::AuditOutcome::success, details},
      s.clock.now());
  if (!e) return e.error();
  return tx->commit();
}

/// Read-only live view of one terminal session.
class LiveSocket final : public WsHandler {
 public:
  LiveSocket(ApiState& s, std::string sessionId, std::string cookie)
      : s_(s), sessionId_(std::move(sessionId)), cookie_(std::move(cookie)) {}

  void onOpen(std::shared_ptr<WsPeer> peer) override {
    watchId_ = s_.sockets.add(cookie_, [peer](const std::string& reason) { peer->close(reason); });
    session::LiveHub::Sink sink;
    sink.output = [peer](std::string_view bytes) { peer->sendBinary(std::string(bytes)); };
    sink.text = [peer](const std::string& text) { peer->sendText(text); };
    sink.ended = [peer](const std::string& reason) {
      peer->sendText(
          boost::json::serialize(boost::json::object{{"type", "closed"}, {"reason", reason}}));
      peer->close(reason);
    };
    // The session may have ended since the route checked it: say so with a copy of `ended`
    // (the sink itself was moved into subscribe; calling its moved-from function would throw
    // on the portal's I/O thread).
    auto ended = sink.ended;
    subscription_ = s_.liveHub->subscribe(sessionId_, std::move(sink));
    if (!subscription_) ended("the session is not live");
  }
  void onMessage(std::string, bool) override {}  // read-only
  void onClose() override {
    s_.sockets.remove(watchId_);
    subscription_.reset();
  }

 private:
  ApiState& s_;
  std::string sessionId_, cookie_;
  std::uint64_t watchId_ = 0;
  std::unique_ptr<session::LiveHub::Subscription> subscription_;
};

}  // namespace

void addSessionRoutes(Router& router, ApiState& s) {
  router.addWebSocket("/api/v1/sessions/{id}/live", [&s](const HttpRequest& r) -> WsAccept {
    std::lock_guard lock(s.mutex);
    auto caller = socketCaller(s, r, SocketCredentials::session,
                               {core::Role::engineer, core::Role::admin}, "live view");
    if (!caller) return {errorResponse(caller.error()), nullptr};
    const std::string id = r.param("id");
    if (!core::isSessionId(id)) return {jsonError(404, "not_found", "no such session"), nullptr};
    auto row = store::SessionRepository(s.db).session(id);
    store::AccessRepository repo(s.db);
    SessionVisibility visible(repo, caller->user);
    // Watching is supervising: the asset's engineers and admins, no one else (no live view by
    // knowing an id).
    if (!row || !visible(*row) ||
        !(caller->user.hasRole(core::Role::admin) ||
          caller->user.inGroup(visible.ownerGroup(row->asset)))) {
      return {jsonError(404, "not_found", "session " + id + " not found"), nullptr};
    }
    if (s.liveHub == nullptr || !s.liveHub->isLive(id)) {
      return {jsonError(409, "conflict", "session " + id + " is not live"), nullptr};
    }
    return {{}, std::make_shared<LiveSocket>(s, id, caller->cookieValue)};
  });

  router.add("GET", "/api/v1/sessions", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    auto open = store::SessionRepository(s.db).open();
    if (!open) return errorResponse(open.error());
    store::AccessRepository repo(s.db);
    SessionVisibility visible(repo, caller->user);
    boost::json::array out;
    for (const auto& row : *open) {
      if (visible(row)) out.push_back(sessionJson(row));
    }
    return jsonResponse(200, out);
  });

  router.add("POST", "/api/v1/sessions/{id}/kill", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    if (auto st = requireRole(*caller, {core::Role::engineer, core::Role::admin}); !st) {
      return errorResponse(st.error());
    }
    const std::string id = r.param("id");
    if (!core::isSessionId(id)) return jsonError(404, "not_found", "no such session");
    auto body = jsonBody(r);
    if (!body) return errorResponse(body.error());
    auto reason = stringField(*body, "reason", 2000);
    if (!reason) return errorResponse(reason.error());
    store::SessionRepository sessions(s.db);
    auto row = sessions.session(id);
    store::AccessRepository repo(s.db);
    if (!row || !SessionVisibility(repo, caller->user)(*row)) {
      return jsonError(404, "not_found", "session " + id + " not found");
    }
    if (row->endedAt) return jsonError(409, "conflict", "session " + id + " has ended");
    if (!row->grantId)
      return jsonError(409, "conflict", "session " + id + " has no grant to suspend");
    // Audited first: a kill whose audit event cannot be written does not happen.
    if (auto st = auditKill(s, caller->actor, "session.killed", "session:" + id,
                            access::auditDetails(
                                {{"reason", *reason}, {"asset", row->asset}, {"user", row->user}}));
        !st) {
      return errorResponse(st.error());
    }
    // The grant is suspended (CIP-005 R3.2: no reconnecting until an engineer reinstates it);
    // the gateway re-checks the grant every second and ends the session with this reason.
    auto grant = s.access.suspend(caller->actor, *row->grantId, "session killed: " + *reason);
    if (!grant && grant.error().code != ErrorCode::conflict) return errorResponse(grant.error());
    return jsonResponse(200, sessionJson(*row));
  });

  router.add("POST", "/api/v1/sessions/kill-all", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    if (auto st = requireRole(*caller, {core::Role::engineer, core::Role::admin}); !st) {
      return errorResponse(st.error());
    }
    auto body = jsonBody(r);
    if (!body) return errorResponse(body.error());
    auto confirm = stringField(*body, "confirm", 100);
    if (!confirm) return errorResponse(confirm.error());
    if (*confirm != kKillAllPhrase) {
      return jsonError(400, "bad_request",
                       std::string("type the confirmation exactly: ") + kKillAllPhrase);
    }
    auto reason = stringField(*body, "reason", 2000, false);
    if (!reason) return errorResponse(reason.error());
    const std::string why = reason->empty() ? "emergency: all vendor sessions ended" : *reason;
    auto open = store::SessionRepository(s.db).open();
    if (!open) return errorResponse(open.error());
    store::AccessRepository repo(s.db);
    SessionVisibility visible(repo, caller->user);
    std::set<std::int64_t> grants;
    for (const auto& row : *open) {
      if (!row.grantId || !visible(row)) continue;
      if (!caller->user.hasRole(core::Role::admin) &&
          !caller->user.inGroup(visible.ownerGroup(row.asset))) {
        continue;  // an auditor-engineer sees more than they may end
      }
      grants.insert(*row.grantId);
    }
    if (auto st =
            auditKill(s, caller->actor, "session.kill_all", "sessions:all",
                      access::auditDetails(
                          {{"reason", why}, {"grants", static_cast<std::int64_t>(grants.size())}}));
        !st) {
      return errorResponse(st.error());
    }
    std::int64_t suspended = 0;
    for (auto g : grants) {
      if (s.access.suspend(caller->actor, g, "all vendor sessions ended: " + why)) ++suspended;
    }
    return jsonResponse(200, boost::json::object{{"suspended_grants", suspended}});
  });
}

}  // namespace conduit::portal
