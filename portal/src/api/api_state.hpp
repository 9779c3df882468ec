#pragma once

// Shared by the API's route files: the state behind the routes and the small helpers every
// handler uses (who is calling, parsing bodies, mapping errors). Not a public header.

#include <boost/json.hpp>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "conduit/access/access_service.hpp"
#include "conduit/access/admin_service.hpp"
#include "conduit/access/auth_service.hpp"
#include "conduit/access/recording_audit.hpp"
#include "conduit/access/web_sessions.hpp"
#include "conduit/portal/api.hpp"
#include "conduit/store/database.hpp"
#include "rate_limiter.hpp"
#include "socket_watch.hpp"

namespace conduit::portal {

inline constexpr const char* kSessionCookie = "__Host-conduit-session";

class ApiState {
 public:
  ApiState(store::Database database, const policies::PolicySet& policies,
           access::VaultService& vault, const core::Clock& clock, ApiOptions options);

  // One SQLite connection, so one handler at a time uses it (and the services on it).
  std::mutex mutex;
  store::Database db;
  const core::Clock& clock;
  access::VaultService& vault;
  ApiOptions options;
  const policies::PolicySet& policySet;  // as loaded at start (the files may have changed since)
  access::AccessService access;
  access::AdminService admin;
  access::AuthService auth;
  access::WebSessionService sessions;
  access::ApiTokenService tokens;
  access::RecordingAuditService recordings;
  RateLimiter loginLimiter;
  TerminalLauncher* terminals = nullptr;
  TunnelLauncher* tunnels = nullptr;
  RemoteDesktopLauncher* desktops = nullptr;
  session::LiveHub* liveHub = nullptr;
  session::HoldBoard* holds = nullptr;
  SocketWatch sockets;
};

/// Who is calling, resolved from the session cookie or a bearer token.
struct Caller {
  core::User user;  // with a token: roles narrowed to the token's scope
  bool viaToken = false;
  std::string cookieValue;  // the session cookie (empty with a token)
  std::string csrfToken;
  access::Actor actor;  // for audit events: username and source address
  // What SocketWatch re-checks for this caller's WebSockets: the session cookie, or
  // kBearerWatch + the API token (a revoked token closes its sockets as a logout does).
  std::string watchKey;
};
inline constexpr std::string_view kBearerWatch = "Bearer ";

/// The error response for a failed operation: status from the error code, message as is for
/// 4xx, never details for 5xx.
HttpResponse errorResponse(const core::Error& e);
HttpResponse jsonResponse(int status, const boost::json::value& body);

/// The caller of an API request. Cookie sessions must be fully signed in, and state-changing
/// methods must carry the CSRF token. Refusals are logged (and CSRF failures audited).
core::Result<Caller> authenticate(ApiState& s, const HttpRequest& r);

/// forbidden unless the caller holds one of roles.
core::Status requireRole(const Caller& c, std::initializer_list<core::Role> roles);

/// The body as a JSON object; bad_request for anything else (not JSON, not an object, wrong
/// content type).
core::Result<boost::json::object> jsonBody(const HttpRequest& r);
/// A string field: invalid_argument if missing (when required), not a string, or too long.
core::Result<std::string> stringField(const boost::json::object& o, std::string_view key,
                                      std::size_t maxLength, bool required = true);
/// The "{id}" path parameter as a positive integer; not_found for anything else (so a path
/// traversal attempt or a non-numeric id looks like an unknown id).
core::Result<std::int64_t> idParam(const HttpRequest& r, const std::string& name = "id");

/// A query parameter, percent-decoded (Boost.URL); empty if absent or malformed.
std::string queryParam(const HttpRequest& r, std::string_view key);

/// Cookie header value for `name`, or empty. Cookies are parsed by hand: Beast has no cookie
/// parser, and we need only one name=value pair out of the header.
std::string cookieValue(const HttpRequest& r, std::string_view name);
std::string sessionCookie(const std::string& value, core::Seconds maxAge);
std::string expiredSessionCookie();

std::string isoTime(core::TimePoint t);
boost::json::value userJson(const core::User& u);

// Route groups, one file each.
void addAuthRoutes(Router& router, ApiState& s);
void addAccessRoutes(Router& router, ApiState& s);
void addSessionRoutes(Router& router, ApiState& s);
void addAuditRoutes(Router& router, ApiState& s);
void addAccountRoutes(Router& router, ApiState& s);
void addStaticRoutes(Router& router, const std::filesystem::path& webRoot);
void addTerminalRoutes(Router& router, ApiState& s);
void addRdpRoutes(Router& router, ApiState& s);
void addTunnelRoutes(Router& router, ApiState& s);
void addAdminRoutes(Router& router, ApiState& s);
void addHoldRoutes(Router& router, ApiState& s);

/// A WebSocket upgrade must come from this portal's own pages: Origin equal to
/// "https://" + Host (cross-site WebSocket hijacking otherwise rides the cookie).
core::Status checkOrigin(const HttpRequest& r);

/// Which credentials may open a WebSocket.
enum class SocketCredentials {
  session,           // a signed-in browser (the session cookie) only
  session_or_token,  // also a bearer token, e.g. the `conduit` CLI's
};

/// The caller of a WebSocket upgrade, holding one of `roles`. A cookie rides along with any
/// site's WebSocket, so a cookie caller must pass checkOrigin; a bearer token is never sent by
/// a browser on its own. With SocketCredentials::session the origin is checked before the
/// credentials, and a token is refused as "<what> needs a signed-in session". Fails with the
/// error to answer (errorResponse): unauthenticated, or permission_denied.
core::Result<Caller> socketCaller(ApiState& s, const HttpRequest& r, SocketCredentials credentials,
                                  std::initializer_list<core::Role> roles,
                                  std::string_view what = "this");

/// {"type":"closed","reason":...}: the last message of a terminal or tunnel WebSocket.
std::string closedMessage(const std::string& reason);

}  // namespace conduit::portal
