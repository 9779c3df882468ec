// Login (password, then TOTP or its enrolment), logout and "who am I" (docs/api.md).
#include <sodium.h>
#include <spdlog/spdlog.h>

#include "api_state.hpp"
#include "qr_svg.hpp"

namespace conduit::portal {

using core::ErrorCode;
using core::fail;

namespace {

const char* const kInvalid = "invalid username, password or code";

HttpResponse rateLimited(int retryAfter) {
  HttpResponse r = jsonError(429, "rate_limited", "too many sign-in attempts from this address");
  r.headers.emplace_back("Retry-After", std::to_string(retryAfter));
  return r;
}

/// A refused sign-in: one answer whatever the cause (wrong password, unknown user, locked),
/// except that an unavailable vault is said plainly (no one can sign in until it is unsealed).
HttpResponse signInRefused(const core::Error& e) {
  if (e.code == ErrorCode::permission_denied && e.message.starts_with("logins are unavailable")) {
    return jsonError(503, "unavailable", e.message);
  }
  if (e.code == ErrorCode::permission_denied)
    return jsonError(401, "invalid_credentials", kInvalid);
  return errorResponse(e);
}

/// The pre-login session (password step passed) behind the cookie, with its CSRF token checked.
core::Result<access::WebSession> preLogin(ApiState& s, const HttpRequest& r, std::string& cookie) {
  cookie = cookieValue(r, kSessionCookie);
  if (cookie.empty()) return fail(ErrorCode::unauthenticated, "sign in with your password first");
  auto session = s.sessions.resolve(cookie);
  if (!session) return session.error();
  if (session->stage == access::WebStage::active) {
    return fail(ErrorCode::conflict, "already signed in");
  }
  const std::string_view sent = r.header("x-csrf-token");
  if (sent.size() != session->csrfToken.size() ||
      sodium_memcmp(sent.data(), session->csrfToken.data(), sent.size()) != 0) {
    return fail(ErrorCode::permission_denied, "missing or wrong CSRF token");
  }
  return session;
}

}  // namespace

void addAuthRoutes(Router& router, ApiState& s) {
  router.add("GET", "/api/v1/banner", [&s](const HttpRequest&) {
    return jsonResponse(200, boost::json::object{{"banner", s.options.loginBanner}});
  });

  router.add("POST", "/api/v1/login", [&s](const HttpRequest& r) {
    int retryAfter = 0;
    if (!s.loginLimiter.allow(r.remoteAddress, retryAfter)) return rateLimited(retryAfter);
    auto body = jsonBody(r);
    if (!body) return errorResponse(body.error());
    auto username = stringField(*body, "username", 100);
    if (!username) return errorResponse(username.error());
    auto password = stringField(*body, "password", 1024);
    if (!password) return errorResponse(password.error());
    std::lock_guard lock(s.mutex);
    // A new sign-in always starts a new session: whatever cookie came with it is ended.
    if (auto old = cookieValue(r, kSessionCookie); !old.empty()) {
      if (auto prior = s.sessions.resolve(old)) {
        (void)s.sessions.end(old, {prior->user.username, r.remoteAddress});
      }
    }
    auto result = s.auth.checkPassword(*username, *password, r.remoteAddress);
    if (!result) return signInRefused(result.error());
    const auto stage = result->totpEnrolled ? access::WebStage::totp : access::WebStage::enrol;
    auto issued = s.sessions.begin(result->user, stage, r.remoteAddress);
    if (!issued) return errorResponse(issued.error());
    HttpResponse res =
        jsonResponse(200, boost::json::object{{"next", result->totpEnrolled ? "totp" : "enrol"},
                                              {"csrf", issued->csrfToken}});
    // The pre-login cookie lives only as long as the idle timeout.
    res.headers.emplace_back("Set-Cookie",
                             sessionCookie(issued->cookieValue, s.options.sessionLimits.idle));
    return res;
  });

  router.add("POST", "/api/v1/login/enrol", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    std::string cookie;
    auto session = preLogin(s, r, cookie);
    if (!session) return errorResponse(session.error());
    // Only a user who had no TOTP at the password step may enrol here; replacing a seed is an
    // administrator's action, or a stolen password would be enough to take over the account.
    if (session->stage != access::WebStage::enrol) {
      return jsonError(409, "conflict", "TOTP is already enrolled; enter a code");
    }
    auto uri = s.auth.enrolTotp(session->user.username, session->user.username, r.remoteAddress);
    if (!uri) return errorResponse(uri.error());
    auto svg = qrSvg(*uri);
    if (!svg) return jsonError(500, "internal", "internal error");
    return jsonResponse(200, boost::json::object{{"otpauth_uri", *uri}, {"qr_svg", *svg}});
  });

  router.add("POST", "/api/v1/login/totp", [&s](const HttpRequest& r) {
    int retryAfter = 0;
    if (!s.loginLimiter.allow(r.remoteAddress, retryAfter)) return rateLimited(retryAfter);
    auto body = jsonBody(r);
    if (!body) return errorResponse(body.error());
    auto code = stringField(*body, "code", 16);
    if (!code) return errorResponse(code.error());
    std::lock_guard lock(s.mutex);
    std::string cookie;
    auto session = preLogin(s, r, cookie);
    if (!session) return errorResponse(session.error());
    // Bound to the user of the password step: the name comes from the session, never the body.
    auto result = s.auth.loginWithVerifiedKey(session->user.username, *code, r.remoteAddress);
    if (!result) return signInRefused(result.error());
    auto issued = s.sessions.promote(cookie, r.remoteAddress);
    if (!issued) return errorResponse(issued.error());
    HttpResponse res = jsonResponse(
        200, boost::json::object{{"user", userJson(result->user)}, {"csrf", issued->csrfToken}});
    res.headers.emplace_back("Set-Cookie",
                             sessionCookie(issued->cookieValue, s.options.sessionLimits.absolute));
    spdlog::info("event=portal_login user={} source={}", result->user.username, r.remoteAddress);
    return res;
  });

  router.add("POST", "/api/v1/logout", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    if (caller->viaToken)
      return jsonError(400, "bad_request", "API tokens are revoked, not logged out");
    if (auto st = s.sessions.end(caller->cookieValue, caller->actor); !st) {
      return errorResponse(st.error());
    }
    // Logging out ends this session's terminals and live views too.
    s.sockets.closeForCookie(caller->cookieValue, "signed out");
    HttpResponse res{204, "application/json", "", {}, {}};
    res.headers.emplace_back("Set-Cookie", expiredSessionCookie());
    return res;
  });

  router.add("GET", "/api/v1/me", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    return jsonResponse(
        200, boost::json::object{{"user", userJson(caller->user)}, {"csrf", caller->csrfToken}});
  });
}

}  // namespace conduit::portal
