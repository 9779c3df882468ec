// Assets, access requests and grants (docs/api.md "Access workflow").
#include <map>

#include "access_views.hpp"
#include "api_state.hpp"
#include "conduit/store/access_repository.hpp"

namespace conduit::portal {

using core::ErrorCode;
using core::fail;

namespace {

/// Caches the lookups that visibility needs while one response is built.
class Visibility {
 public:
  Visibility(store::AccessRepository& repo, const core::User& caller)
      : repo_(repo), caller_(caller) {}

  bool request(const core::AccessRequest& r) {
    return maySee(caller_, vendorOf(r.requesterId), r.ownerGroup);
  }
  bool grant(const core::Grant& g) {
    return maySee(caller_, vendorOf(g.userId), ownerOf(g.assetId));
  }
  std::string userName(std::int64_t id) {
    load(id);
    return users_[id].username;
  }

 private:
  void load(std::int64_t userId) {
    if (users_.contains(userId)) return;
    auto u = repo_.user(userId);
    users_[userId] = u ? *u : core::User{};
  }
  std::optional<std::int64_t> vendorOf(std::int64_t userId) {
    load(userId);
    return users_[userId].vendorId;
  }
  std::string ownerOf(std::int64_t assetId) {
    if (!owners_.contains(assetId)) {
      auto a = repo_.asset(assetId);
      owners_[assetId] = a ? a->ownerGroup : std::string();
    }
    return owners_[assetId];
  }

  store::AccessRepository& repo_;
  const core::User& caller_;
  std::map<std::int64_t, core::User> users_;
  std::map<std::int64_t, std::string> owners_;
};

/// The request with this id if the caller may see it; not_found otherwise (another vendor's
/// ids are indistinguishable from unknown ones).
core::Result<core::AccessRequest> visibleRequest(ApiState& s, const Caller& c, std::int64_t id) {
  store::AccessRepository repo(s.db);
  auto request = repo.request(id);
  if (!request || !Visibility(repo, c.user).request(*request)) {
    return fail(ErrorCode::not_found, "request " + std::to_string(id) + " not found");
  }
  return request;
}

core::Result<core::Grant> visibleGrant(ApiState& s, const Caller& c, std::int64_t id) {
  store::AccessRepository repo(s.db);
  auto grant = repo.grant(id);
  if (!grant || !Visibility(repo, c.user).grant(*grant)) {
    return fail(ErrorCode::not_found, "grant " + std::to_string(id) + " not found");
  }
  return grant;
}

std::string sshCommand(const ApiState& s, const std::string& user, const std::string& asset) {
  return "ssh -p " + std::to_string(s.options.sshPort) + " " + user + "+" + asset + "@" +
         s.options.sshHost;
}

core::Result<core::RequestDraft> parseDraft(const boost::json::object& body, core::TimePoint now) {
  core::RequestDraft d;
  const auto* protocols = body.if_contains("protocols");
  if (!protocols || !protocols->is_array() || protocols->as_array().empty() ||
      protocols->as_array().size() > 8) {
    return fail(ErrorCode::invalid_argument, "protocols must be a list of 1 to 8 names");
  }
  for (const auto& p : protocols->as_array()) {
    if (!p.is_string()) return fail(ErrorCode::invalid_argument, "protocols must be names");
    auto proto = core::parseProtocol(std::string(p.as_string()));
    if (!proto)
      return fail(ErrorCode::invalid_argument, "unknown protocol " + std::string(p.as_string()));
    d.protocols.push_back(*proto);
  }
  auto start = stringField(body, "start", 40, false);
  if (!start) return start.error();
  if (start->empty() || *start == "now") {
    d.windowStart = now;
  } else {
    auto t = core::parseTime(*start);
    if (!t)
      return fail(ErrorCode::invalid_argument, "start must be \"now\" or an RFC 3339 UTC time");
    d.windowStart = *t;
  }
  const auto* minutes = body.if_contains("duration_minutes");
  if (!minutes || !minutes->is_int64() || minutes->as_int64() <= 0 ||
      minutes->as_int64() > 90 * 24 * 60) {
    return fail(ErrorCode::invalid_argument, "duration_minutes must be a positive whole number");
  }
  d.duration = core::Seconds{minutes->as_int64() * 60};
  auto reason = stringField(body, "reason", core::kMaxReasonLength);
  if (!reason) return reason.error();
  auto ticket = stringField(body, "ticket", core::kMaxTicketLength, false);
  if (!ticket) return ticket.error();
  d.reason = std::move(*reason);
  d.ticket = std::move(*ticket);
  return d;
}

HttpResponse vote(ApiState& s, const HttpRequest& r, bool approve) {
  std::lock_guard lock(s.mutex);
  auto caller = authenticate(s, r);
  if (!caller) return errorResponse(caller.error());
  if (auto st = requireRole(*caller, {core::Role::engineer}); !st) return errorResponse(st.error());
  auto id = idParam(r);
  if (!id) return errorResponse(id.error());
  auto body = jsonBody(r);
  if (!body) return errorResponse(body.error());
  auto comment = stringField(*body, "comment", 2000, false);
  if (!comment) return errorResponse(comment.error());
  if (auto visible = visibleRequest(s, *caller, *id); !visible) {
    return errorResponse(visible.error());
  }
  auto outcome = s.access.vote(caller->actor, *id, approve, *comment);
  if (!outcome) return errorResponse(outcome.error());
  boost::json::object o{{"request", requestJson(outcome->request)}};
  if (outcome->grant) {
    o["grant"] =
        grantJson(*outcome->grant, outcome->request.requesterName, s.clock.now(),
                  sshCommand(s, outcome->request.requesterName, outcome->grant->assetName));
  } else {
    o["grant"] = nullptr;
  }
  return jsonResponse(200, o);
}

}  // namespace

void addAccessRoutes(Router& router, ApiState& s) {
  router.add("GET", "/api/v1/assets", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    auto assets = store::AccessRepository(s.db).assets();
    if (!assets) return errorResponse(assets.error());
    boost::json::array out;
    for (const auto& a : *assets) {
      if (!a.disabled) out.push_back(assetJson(a));
    }
    return jsonResponse(200, out);
  });

  router.add("GET", "/api/v1/requests", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    store::RequestFilter filter;
    if (const auto state = queryParam(r, "state"); !state.empty()) {
      filter.state = core::parseRequestState(state);
      if (!filter.state) return jsonError(400, "bad_request", "unknown state " + state);
    }
    auto requests = s.access.listRequests(filter);
    if (!requests) return errorResponse(requests.error());
    store::AccessRepository repo(s.db);
    Visibility visible(repo, caller->user);
    boost::json::array out;
    for (const auto& request : *requests) {  // newest first, as the store lists them
      if (visible.request(request)) out.push_back(requestJson(request));
    }
    return jsonResponse(200, out);
  });

  router.add("POST", "/api/v1/requests", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    if (auto st = requireRole(*caller, {core::Role::vendor}); !st) return errorResponse(st.error());
    auto body = jsonBody(r);
    if (!body) return errorResponse(body.error());
    auto asset = stringField(*body, "asset", 200);
    if (!asset) return errorResponse(asset.error());
    auto draft = parseDraft(*body, s.clock.now());
    if (!draft) return errorResponse(draft.error());
    auto request = s.access.requestAccess(caller->actor, *asset, *draft);
    if (!request) return errorResponse(request.error());
    return jsonResponse(201, requestJson(*request));
  });

  router.add("GET", "/api/v1/requests/{id}", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    auto id = idParam(r);
    if (!id) return errorResponse(id.error());
    auto request = visibleRequest(s, *caller, *id);
    if (!request) return errorResponse(request.error());
    return jsonResponse(200, requestJson(*request));
  });

  router.add("GET", "/api/v1/requests/{id}/explain", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    if (auto st =
            requireRole(*caller, {core::Role::engineer, core::Role::auditor, core::Role::admin});
        !st) {
      return errorResponse(st.error());
    }
    auto id = idParam(r);
    if (!id) return errorResponse(id.error());
    auto request = visibleRequest(s, *caller, *id);
    if (!request) return errorResponse(request.error());
    auto text = s.access.explainRequest(*id);
    if (!text) return errorResponse(text.error());
    return jsonResponse(200, boost::json::object{{"request_id", *id}, {"text", *text}});
  });

  router.add("POST", "/api/v1/requests/{id}/approve",
             [&s](const HttpRequest& r) { return vote(s, r, true); });
  router.add("POST", "/api/v1/requests/{id}/deny",
             [&s](const HttpRequest& r) { return vote(s, r, false); });

  router.add("POST", "/api/v1/requests/{id}/cancel", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    auto id = idParam(r);
    if (!id) return errorResponse(id.error());
    if (auto visible = visibleRequest(s, *caller, *id); !visible) {
      return errorResponse(visible.error());
    }
    auto request = s.access.cancel(caller->actor, *id);
    if (!request) return errorResponse(request.error());
    return jsonResponse(200, requestJson(*request));
  });

  router.add("GET", "/api/v1/grants", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    auto grants = s.access.listGrants(std::nullopt);
    if (!grants) return errorResponse(grants.error());
    store::AccessRepository repo(s.db);
    Visibility visible(repo, caller->user);
    const auto now = s.clock.now();
    boost::json::array out;
    for (const auto& grant : *grants) {  // newest first
      if (!visible.grant(grant)) continue;
      const std::string user = visible.userName(grant.userId);
      out.push_back(grantJson(grant, user, now, sshCommand(s, user, grant.assetName)));
    }
    return jsonResponse(200, out);
  });

  auto changeGrant = [&s](const HttpRequest& r, const char* field, auto change) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    if (auto st = requireRole(*caller, {core::Role::engineer, core::Role::admin}); !st) {
      return errorResponse(st.error());
    }
    auto id = idParam(r);
    if (!id) return errorResponse(id.error());
    auto body = jsonBody(r);
    if (!body) return errorResponse(body.error());
    auto text = stringField(*body, field, 2000);
    if (!text) return errorResponse(text.error());
    if (auto visible = visibleGrant(s, *caller, *id); !visible) {
      return errorResponse(visible.error());
    }
    core::Result<core::Grant> grant = change(caller->actor, *id, *text);
    if (!grant) return errorResponse(grant.error());
    store::AccessRepository repo(s.db);
    const std::string user = Visibility(repo, caller->user).userName(grant->userId);
    return jsonResponse(
        200, grantJson(*grant, user, s.clock.now(), sshCommand(s, user, grant->assetName)));
  };
  router.add("POST", "/api/v1/grants/{id}/revoke", [&s, changeGrant](const HttpRequest& r) {
    return changeGrant(r, "reason",
                       [&s](const access::Actor& a, std::int64_t id, const std::string& why) {
                         return s.access.revoke(a, id, why);
                       });
  });
  router.add("POST", "/api/v1/grants/{id}/reinstate", [&s, changeGrant](const HttpRequest& r) {
    return changeGrant(r, "comment",
                       [&s](const access::Actor& a, std::int64_t id, const std::string& c) {
                         return s.access.reinstate(a, id, c);
                       });
  });
}

}  // namespace conduit::portal
