#include <sodium.h>
#include <spdlog/spdlog.h>

#include <boost/url/parse_query.hpp>

#include "api_state.hpp"
#include "conduit/access/audit_details.hpp"
#include "conduit/store/audit_log.hpp"

namespace conduit::portal {

using core::ErrorCode;
using core::fail;

ApiState::ApiState(store::Database database, const policies::PolicySet& policies,
                   access::VaultService& vaultService, const core::Clock& c, ApiOptions o)
    : db(std::move(database)),
      clock(c),
      vault(vaultService),
      options(std::move(o)),
      policySet(policies),
      access(db, policies, clock),
      admin(db, clock),
      auth(db, vault, clock, options.lockout),
      sessions(db, clock, options.sessionLimits),
      tokens(db, clock),
      recordings(db, vault, clock, options.recordingsDir),
      loginLimiter(clock, options.loginAttemptsPerMinute) {}

HttpResponse jsonResponse(int status, const boost::json::value& body) {
  return HttpResponse{status, "application/json", boost::json::serialize(body), {}, {}};
}

HttpResponse errorResponse(const core::Error& e) {
  switch (e.code) {
    case ErrorCode::invalid_argument:
      return jsonError(400, "bad_request", e.message);
    case ErrorCode::unauthenticated:
      return jsonError(401, "unauthenticated", e.message);
    case ErrorCode::permission_denied:
      return jsonError(403, "forbidden", e.message);
    case ErrorCode::not_found:
      return jsonError(404, "not_found", e.message);
    case ErrorCode::already_exists:
      return jsonError(409, "conflict", e.message);
    case ErrorCode::conflict:
      return jsonError(409, "conflict", e.message);
    case ErrorCode::unavailable:
      return jsonError(503, "unavailable", e.message);
    default:
      spdlog::error("event=api_internal_error code={} message=\"{}\"", core::errorCodeName(e.code),
                    e.message);
      return jsonError(500, "internal", "internal error");
  }
}

std::string queryParam(const HttpRequest& r, std::string_view key) {
  auto params = boost::urls::parse_query(r.query);
  if (!params) return {};
  // Browsers' forms and URLSearchParams send a space as '+'.
  boost::urls::encoding_opts opts;
  opts.space_as_plus = true;
  for (const auto& p : *params) {
    if (p.key.decode(opts) == key) return p.value.decode(opts);
  }
  return {};
}

std::string cookieValue(const HttpRequest& r, std::string_view name) {
  std::string_view header = r.header("cookie");
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      return std::string(pair.substr(eq + 1));
    }
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return {};
}

std::string sessionCookie(const std::string& value, core::Seconds maxAge) {
  return std::string(kSessionCookie) + "=" + value +
         "; Path=/; Max-Age=" + std::to_string(maxAge.count()) +
         "; Secure; HttpOnly; SameSite=Strict";
}

std::string expiredSessionCookie() {
  return std::string(kSessionCookie) + "=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict";
}

namespace {

bool changesState(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

void auditRefusal(ApiState& s, const HttpRequest& r, const std::string& user,
                  const std::string& why) {
  auto tx = store::Transaction::begin(s.db);
  if (!tx) return;
  auto e = store::AuditLog(s.db).append(
      {user.empty() ? "anonymous" : user, r.remoteAddress, "portal", "api.refused",
       r.method + " " + r.path, core::AuditOutcome::failure,
       access::auditDetails({{"reason", why}})},
      s.clock.now());
  if (e) (void)tx->commit();
}

}  // namespace

core::Result<Caller> authenticate(ApiState& s, const HttpRequest& r) {
  const std::string_view authz = r.header("authorization");
  if (authz.starts_with("Bearer ")) {
    auto caller = s.tokens.resolve(std::string(authz.substr(7)));
    if (!caller) {
      spdlog::warn("event=api_refused reason=bad_token path={} source={}", r.path, r.remoteAddress);
      return caller.error();
    }
    Caller c{std::move(caller->user), true, "", "", {}, std::string(authz)};
    c.actor = {c.user.username, r.remoteAddress};
    return c;
  }
  const std::string cookie = cookieValue(r, kSessionCookie);
  if (cookie.empty()) return fail(ErrorCode::unauthenticated, "sign in first");
  auto session = s.sessions.resolve(cookie);
  if (!session) return session.error();
  if (session->stage != access::WebStage::active) {
    return fail(ErrorCode::unauthenticated, "finish signing in first");
  }
  Caller c{std::move(session->user), false, cookie, session->csrfToken, {}, cookie};
  c.actor = {c.user.username, r.remoteAddress};
  if (changesState(r.method)) {
    const std::string_view sent = r.header("x-csrf-token");
    // Constant-time compare: the token must not be guessable byte by byte from timings.
    if (sent.size() != c.csrfToken.size() ||
        sodium_memcmp(sent.data(), c.csrfToken.data(), sent.size()) != 0) {
      spdlog::warn("event=api_refused reason=csrf path={} user={} source={}", r.path,
                   c.user.username, r.remoteAddress);
      auditRefusal(s, r, c.user.username, "missing or wrong CSRF token");
      return fail(ErrorCode::permission_denied, "missing or wrong CSRF token");
    }
  }
  return c;
}

core::Status checkOrigin(const HttpRequest& r) {
  const std::string_view origin = r.header("origin");
  const std::string_view host = r.header("host");
  if (origin.empty() || host.empty() || origin != "https://" + std::string(host)) {
    spdlog::warn("event=api_refused reason=origin path={} origin=\"{}\" source={}", r.path, origin,
                 r.remoteAddress);
    return fail(ErrorCode::permission_denied, "cross-origin WebSocket refused");
  }
  return core::Done{};
}

core::Result<Caller> socketCaller(ApiState& s, const HttpRequest& r, SocketCredentials credentials,
                                  std::initializer_list<core::Role> roles, std::string_view what) {
  const bool sessionOnly = credentials == SocketCredentials::session;
  if (sessionOnly) {
    if (auto st = checkOrigin(r); !st) return st.error();
  }
  auto caller = authenticate(s, r);
  if (!caller) return caller.error();
  if (caller->viaToken && sessionOnly) {
    return fail(ErrorCode::permission_denied, std::string(what) + " needs a signed-in session");
  }
  if (!caller->viaToken && !sessionOnly) {
    if (auto st = checkOrigin(r); !st) return st.error();
  }
  if (auto st = requireRole(*caller, roles); !st) return st.error();
  return caller;
}

std::string closedMessage(const std::string& reason) {
  return boost::json::serialize(boost::json::object{{"type", "closed"}, {"reason", reason}});
}

core::Status requireRole(const Caller& c, std::initializer_list<core::Role> roles) {
  for (auto r : roles) {
    if (c.user.hasRole(r)) return core::Done{};
  }
  std::string names;
  for (auto r : roles) names += (names.empty() ? "" : " or ") + std::string(core::roleName(r));
  return fail(ErrorCode::permission_denied, "this needs the role " + names);
}

core::Result<boost::json::object> jsonBody(const HttpRequest& r) {
  const std::string_view type = r.header("content-type");
  if (!type.starts_with("application/json")) {
    return fail(ErrorCode::invalid_argument, "send the body as application/json");
  }
  boost::system::error_code ec;
  auto value = boost::json::parse(r.body, ec);
  if (ec) return fail(ErrorCode::invalid_argument, "malformed JSON: " + ec.message());
  if (!value.is_object()) return fail(ErrorCode::invalid_argument, "the body must be an object");
  return std::move(value.as_object());
}

core::Result<std::string> stringField(const boost::json::object& o, std::string_view key,
                                      std::size_t maxLength, bool required) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) {
    if (required) return fail(ErrorCode::invalid_argument, std::string(key) + " is required");
    return std::string();
  }
  if (!v->is_string()) {
    return fail(ErrorCode::invalid_argument, std::string(key) + " must be a string");
  }
  const auto& str = v->as_string();
  if (str.size() > maxLength) {
    return fail(ErrorCode::invalid_argument,
                std::string(key) + " is longer than " + std::to_string(maxLength) + " characters");
  }
  return std::string(str);
}

core::Result<std::int64_t> idParam(const HttpRequest& r, const std::string& name) {
  const std::string text = r.param(name);
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return fail(ErrorCode::not_found, "no such " + name);
  }
  const std::int64_t id = std::stoll(text);
  if (id <= 0) return fail(ErrorCode::not_found, "no such " + name);
  return id;
}

std::string isoTime(core::TimePoint t) {
  return core::formatTime(t);
}

boost::json::value userJson(const core::User& u) {
  boost::json::array roles, groups;
  for (auto r : u.roles) roles.emplace_back(core::roleName(r));
  for (const auto& g : u.groups) groups.emplace_back(g);
  boost::json::object o{{"username", u.username},
                        {"display_name", u.displayName},
                        {"roles", std::move(roles)},
                        {"groups", std::move(groups)}};
  if (u.vendorId) {
    o["vendor"] = u.vendorName;
  } else {
    o["vendor"] = nullptr;
  }
  return o;
}

PortalApi::PortalApi(store::Database db, const policies::PolicySet& policies,
                     access::VaultService& vault, const core::Clock& clock, ApiOptions options)
    : state_(
          std::make_unique<ApiState>(std::move(db), policies, vault, clock, std::move(options))) {
  // Every 2 s, every open WebSocket's portal session or API token is checked again (timeouts,
  // logouts from elsewhere, revoked tokens, disabled users).
  state_->sockets.start(
      [s = state_.get()](const std::string& key) -> std::optional<std::string> {
        std::lock_guard lock(s->mutex);
        if (key.starts_with(kBearerWatch)) {
          if (s->tokens.resolve(key.substr(kBearerWatch.size()))) return std::nullopt;
          return "the API token was revoked, or its user disabled";
        }
        auto session = s->sessions.resolve(key);
        if (session && session->stage == access::WebStage::active) return std::nullopt;
        return "signed out: the portal session has ended";
      },
      std::chrono::seconds(2));
}

PortalApi::~PortalApi() {
  state_->sockets.stop();
}

void PortalApi::setRemoteDesktopLauncher(RemoteDesktopLauncher* launcher) {
  state_->desktops = launcher;
}

void PortalApi::setTerminalLauncher(TerminalLauncher* launcher) {
  state_->terminals = launcher;
}

void PortalApi::setHoldBoard(session::HoldBoard* board) {
  state_->holds = board;
}

void PortalApi::setLiveHub(session::LiveHub* hub) {
  state_->liveHub = hub;
}

void PortalApi::addRoutes(Router& router) {
  addAuthRoutes(router, *state_);
  addAccessRoutes(router, *state_);
  addSessionRoutes(router, *state_);
  addAuditRoutes(router, *state_);
  addAccountRoutes(router, *state_);
  addTerminalRoutes(router, *state_);
  addRdpRoutes(router, *state_);
  addTunnelRoutes(router, *state_);
  addAdminRoutes(router, *state_);
  addHoldRoutes(router, *state_);
  if (!state_->options.webRoot.empty()) addStaticRoutes(router, state_->options.webRoot);
}

}  // namespace conduit::portal
