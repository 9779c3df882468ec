// Portal sign-in, sessions, CSRF and rate limits through the real routes (docs/api.md).
#include <fstream>

#include "api_world.hpp"

using namespace conduit;
using namespace std::chrono_literals;
using test::ApiWorld;
using test::Browser;

TEST_CASE("sign-in takes the password, then the TOTP code, and sets a __Host- cookie") {
  ApiWorld w;
  Browser b;
  auto first =
      w.call("POST", "/api/v1/login", &b, R"({"username":"alice","password":"alice-password-1"})");
  REQUIRE(first.status == 200);
  CHECK(first.body.at("next").as_string() == "totp");
  const std::string preLogin = b.cookie;
  const std::string cookie = first.header("Set-Cookie");
  CHECK(cookie.starts_with("__Host-conduit-session="));
  CHECK(cookie.find("; Secure") != std::string::npos);
  CHECK(cookie.find("; HttpOnly") != std::string::npos);
  CHECK(cookie.find("; SameSite=Strict") != std::string::npos);
  CHECK(cookie.find("; Path=/") != std::string::npos);
  CHECK(b.cookie.size() == 43);  // 256 bits, base64url

  // Half signed in is not signed in.
  CHECK(w.call("GET", "/api/v1/me", &b).status == 401);

  auto second = w.call("POST", "/api/v1/login/totp", &b, R"({"code":")" + w.code("alice") + "\"}");
  REQUIRE(second.status == 200);
  CHECK(second.body.at("user").at("username").as_string() == "alice");
  // The id is replaced at login: the pre-login cookie is worth nothing now.
  CHECK(b.cookie != preLogin);
  Browser stale{preLogin, b.csrf};
  CHECK(w.call("GET", "/api/v1/me", &stale).status == 401);

  auto me = w.call("GET", "/api/v1/me", &b);
  REQUIRE(me.status == 200);
  CHECK(me.body.at("user").at("vendor").as_string() == "acme");
  CHECK(me.body.at("csrf").as_string() == b.csrf);
  CHECK(w.countEvents("login.succeeded") == 1);

  // Only the hash of the id is stored: the cookie value is nowhere in the database file.
  std::ifstream file(w.dir / "c.db", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(file)), {});
  CHECK(bytes.find(b.cookie) == std::string::npos);
}

TEST_CASE("a wrong password, an unknown user and a wrong code all get the same 401") {
  ApiWorld w;
  Browser b;
  auto wrong = w.call("POST", "/api/v1/login", &b, R"({"username":"alice","password":"nope"})");
  auto unknown = w.call("POST", "/api/v1/login", &b, R"({"username":"zed","password":"nope"})");
  CHECK(wrong.status == 401);
  CHECK(unknown.status == 401);
  CHECK(wrong.raw == unknown.raw);
  CHECK(wrong.error() == "invalid_credentials");
  CHECK(b.cookie.empty());

  REQUIRE(
      w.call("POST", "/api/v1/login", &b, R"({"username":"alice","password":"alice-password-1"})")
          .status == 200);
  auto badCode = w.call("POST", "/api/v1/login/totp", &b, R"({"code":"000000"})");
  CHECK(badCode.status == 401);
  CHECK(badCode.raw == wrong.raw);
  CHECK(w.countEvents("login.failed") == 3);
}

TEST_CASE("the TOTP step is bound to the user of the password step") {
  ApiWorld w;
  Browser b;
  REQUIRE(
      w.call("POST", "/api/v1/login", &b, R"({"username":"alice","password":"alice-password-1"})")
          .status == 200);
  // erin's valid code, even with erin's name in the body, does not sign anyone in.
  auto r = w.call("POST", "/api/v1/login/totp", &b,
                  R"({"code":")" + w.code("erin") + R"(","username":"erin"})");
  CHECK(r.status == 401);
  CHECK(w.call("GET", "/api/v1/me", &b).status == 401);
}

TEST_CASE("repeated failures lock the account, the right password is then refused too") {
  ApiWorld w;
  for (int i = 0; i < 5; ++i) {
    Browser b;
    CHECK(w.call("POST", "/api/v1/login", &b, R"({"username":"erin","password":"x"})", true,
                 "10.0.0." + std::to_string(i))
              .status == 401);
  }
  CHECK(w.countEvents("account.locked") == 1);
  Browser b;
  CHECK(w.call("POST", "/api/v1/login", &b, R"({"username":"erin","password":"erin-password-1"})",
               true, "10.0.0.99")
            .status == 401);
  CHECK(b.cookie.empty());
}

TEST_CASE("sign-in attempts are rate limited per address with Retry-After") {
  ApiWorld w;
  for (int i = 0; i < 10; ++i) {
    Browser b;
    CHECK(w.call("POST", "/api/v1/login", &b, R"({"username":"zed","password":"x"})", true,
                 "192.0.2.7")
              .status == 401);
  }
  Browser b;
  auto limited = w.call("POST", "/api/v1/login", &b, R"({"username":"zed","password":"x"})", true,
                        "192.0.2.7");
  CHECK(limited.status == 429);
  CHECK(limited.error() == "rate_limited");
  CHECK(std::stoi(limited.header("Retry-After")) > 0);
  // Another address is not affected; a minute later the first one may try again.
  CHECK(
      w.call("POST", "/api/v1/login", &b, R"({"username":"zed","password":"x"})", true, "192.0.2.8")
          .status == 401);
  w.clock.advance(61s);
  CHECK(
      w.call("POST", "/api/v1/login", &b, R"({"username":"zed","password":"x"})", true, "192.0.2.7")
          .status == 401);
}

TEST_CASE("first sign-in without TOTP enrols it with a QR code, then needs a code") {
  ApiWorld w;
  Browser b;
  auto first =
      w.call("POST", "/api/v1/login", &b, R"({"username":"root","password":"root-password-1"})");
  REQUIRE(first.status == 200);
  CHECK(first.body.at("next").as_string() == "enrol");
  // Without the CSRF token of the password step, no enrolment.
  CHECK(w.call("POST", "/api/v1/login/enrol", &b, "{}", false).status == 403);
  auto enrol = w.call("POST", "/api/v1/login/enrol", &b, "{}");
  REQUIRE(enrol.status == 200);
  const std::string uri(enrol.body.at("otpauth_uri").as_string());
  CHECK(uri.starts_with("otpauth://totp/Conduit:root?secret="));
  const std::string svg(enrol.body.at("qr_svg").as_string());
  CHECK(svg.starts_with("<svg"));
  CHECK(svg.find("<path") != std::string::npos);
  const auto p = uri.find("secret=") + 7;
  w.seeds["root"] = *core::base32Decode(uri.substr(p, uri.find('&', p) - p));
  auto done = w.call("POST", "/api/v1/login/totp", &b, R"({"code":")" + w.code("root") + "\"}");
  REQUIRE(done.status == 200);

  // Once enrolled, a password alone cannot replace the seed.
  w.clock.advance(30s);
  Browser again;
  auto next = w.call("POST", "/api/v1/login", &again,
                     R"({"username":"root","password":"root-password-1"})");
  REQUIRE(next.status == 200);
  CHECK(next.body.at("next").as_string() == "totp");
  CHECK(w.call("POST", "/api/v1/login/enrol", &again, "{}").status == 409);
}

TEST_CASE("sessions time out when idle and after the absolute limit") {
  ApiWorld w;
  Browser idle = w.signIn("alice");
  w.clock.advance(14min);
  CHECK(w.call("GET", "/api/v1/me", &idle).status == 200);
  w.clock.advance(15min);
  auto expired = w.call("GET", "/api/v1/me", &idle);
  CHECK(expired.status == 401);
  CHECK(expired.error() == "unauthenticated");

  w.clock.advance(30s);
  Browser busy = w.signIn("alice");
  for (int i = 0; i < 47; ++i) {  // active every 10 minutes for 7 h 50 min
    w.clock.advance(10min);
    REQUIRE(w.call("GET", "/api/v1/me", &busy).status == 200);
  }
  w.clock.advance(10min);
  CHECK(w.call("GET", "/api/v1/me", &busy).status == 401);
}

TEST_CASE("logout ends the session") {
  ApiWorld w;
  Browser b = w.signIn("alice");
  Browser copy = b;
  auto out = w.call("POST", "/api/v1/logout", &b, "{}");
  CHECK(out.status == 204);
  CHECK(out.header("Set-Cookie").find("Max-Age=0") != std::string::npos);
  CHECK(w.call("GET", "/api/v1/me", &copy).status == 401);
  CHECK(w.lastEventType() == "logout");
}

TEST_CASE("every state-changing call needs the session's CSRF token, a refusal changes nothing") {
  ApiWorld w;
  Browser b = w.signIn("alice");
  const std::string body =
      R"({"asset":"hmi-3","protocols":["ssh"],"duration_minutes":30,"reason":"r"})";
  const auto before = w.call("GET", "/api/v1/requests", &b).body.as_array().size();
  auto missing = w.call("POST", "/api/v1/requests", &b, body, false);
  CHECK(missing.status == 403);
  CHECK(missing.error() == "forbidden");
  CHECK(w.lastEventType() == "api.refused");
  Browser forged{b.cookie, "forged-token-forged-token-forged-token-forg"};
  CHECK(w.call("POST", "/api/v1/requests", &forged, body).status == 403);
  CHECK(w.call("GET", "/api/v1/requests", &b).body.as_array().size() == before);
  CHECK(w.call("POST", "/api/v1/requests", &b, body).status == 201);
  CHECK(w.call("GET", "/api/v1/requests", &b).body.as_array().size() == before + 1);
}

TEST_CASE("disabling a user ends their portal session at the next request") {
  ApiWorld w;
  Browser b = w.signIn("alice");
  REQUIRE(access::AdminService(w.db, w.clock).setUserDisabled(w.root, "alice", true).ok());
  CHECK(w.call("GET", "/api/v1/me", &b).status == 401);
}

TEST_CASE("the login banner is public and shown literally") {
  ApiWorld w;
  auto r = w.call("GET", "/api/v1/banner");
  CHECK(r.status == 200);
  CHECK(r.body.at("banner").as_string() == "Authorised use only");
}
