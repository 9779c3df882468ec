// Administration through the API (docs/api.md "Administration"): who may call it, what each call
// changes and audits, what bad input gets, and that credential values go nowhere but the vault.
#include <filesystem>
#include <fstream>

#include "api_world.hpp"
#include "conduit/access/access_service.hpp"
#include "conduit/store/access_repository.hpp"

using namespace conduit;
using namespace std::chrono_literals;
using test::ApiWorld;
using test::Browser;
using test::Response;

namespace {

/// root has no TOTP: its first sign-in enrols it through the portal, as a new admin's would.
Browser signInRoot(ApiWorld& w) {
  Browser b;
  auto first =
      w.call("POST", "/api/v1/login", &b, R"({"username":"root","password":"root-password-1"})");
  REQUIRE(first.status == 200);
  REQUIRE(first.body.at("next").as_string() == "enrol");
  auto enrol = w.call("POST", "/api/v1/login/enrol", &b, "{}");
  REQUIRE(enrol.status == 200);
  const std::string uri(enrol.body.at("otpauth_uri").as_string());
  const auto p = uri.find("secret=") + 7;
  w.seeds["root"] = *core::base32Decode(uri.substr(p, uri.find('&', p) - p));
  REQUIRE(
      w.call("POST", "/api/v1/login/totp", &b, R"({"code":")" + w.code("root") + "\"}").status ==
      200);
  return b;
}

/// A request with a bearer token, to any router.
Response bearer(portal::Router& router, const std::string& method, const std::string& target,
                const std::string& token, const std::string& body = "") {
  portal::HttpRequest r;
  r.method = method;
  r.path = target;
  r.body = body;
  r.remoteAddress = "10.0.0.9";
  r.headers.emplace_back("authorization", "Bearer " + token);
  if (!body.empty()) r.headers.emplace_back("content-type", "application/json");
  const auto res = router.dispatch(r);
  Response out;
  out.status = res.status;
  out.raw = res.body;
  if (!res.body.empty()) out.body = boost::json::parse(res.body);
  return out;
}

std::string adminToken(ApiWorld& w, Browser& root) {
  auto made = w.call("POST", "/api/v1/tokens", &root, R"({"name":"automation","roles":["admin"]})");
  REQUIRE(made.status == 201);
  return std::string(made.body.at("token").as_string());
}

/// The names in a list answer.
std::set<std::string> names(const Response& r, const char* key = "name") {
  std::set<std::string> out;
  for (const auto& v : r.body.as_array()) out.emplace(v.at(key).as_string());
  return out;
}

const boost::json::value& find(const Response& r, const std::string& name,
                               const char* key = "name") {
  for (const auto& v : r.body.as_array()) {
    if (v.at(key).as_string() == name) return v;
  }
  FAIL("no " << name << " in " << r.raw);
  throw std::logic_error("unreachable");
}

std::string fileBytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<core::AuditEvent> auditEvents(ApiWorld& w) {
  auto events = store::AuditLog(w.db).list();
  REQUIRE(events.ok());
  return std::move(*events);
}

std::size_t auditCount(ApiWorld& w) {
  return store::AuditLog(w.db).list()->size();
}

const char* const kNewAsset = R"({"name":"plc-17","site":"Plant 2","zone":"cell-3",
  "criticality":"high","owner_group":"safety","tags":["siemens","line-3"],"max_sessions":2,
  "endpoints":[{"protocol":"ssh","host":"10.20.0.17","port":22,"account":"maint",
                "pinned_key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOCCSmkhbB4BoRhRR1MBh8rH4Y plc"},
               {"protocol":"modbus","host":"10.20.0.17","port":502}]})";

}  // namespace

TEST_CASE("admin endpoints: admins only, other roles 403, no session 401, a token needs admin") {
  ApiWorld w;
  Browser root = signInRoot(w);
  std::map<std::string, Browser> as;
  for (const char* u : {"alice", "erin", "ann"}) as[u] = w.signIn(u);

  struct Case {
    const char* method;
    std::string target;
    std::string body;
    int adminStatus;
  };
  const std::vector<Case> cases = {
      {"GET", "/api/v1/admin/vendors", "", 200},
      {"POST", "/api/v1/admin/vendors",
       R"({"name":"initech","contact":"ops@initech.example","contract_end":"2027-06-30T00:00:00Z"})",
       201},
      {"POST", "/api/v1/admin/vendors/globex/disable", "", 200},
      {"POST", "/api/v1/admin/vendors/globex/enable", "", 200},
      {"GET", "/api/v1/admin/users", "", 200},
      {"POST", "/api/v1/admin/users",
       R"({"username":"carol","display_name":"Carol C","vendor":"acme","roles":["vendor"],
           "groups":[],"password":"carol-password-1","expires_at":null})",
       201},
      {"POST", "/api/v1/admin/users/bob/disable", "", 200},
      {"POST", "/api/v1/admin/users/bob/enable", "", 200},
      {"POST", "/api/v1/admin/users/sam/reset-totp", "", 200},
      {"GET", "/api/v1/admin/groups", "", 200},
      {"POST", "/api/v1/admin/groups", R"({"name":"water","description":"Water treatment"})", 201},
      {"GET", "/api/v1/admin/assets", "", 200},
      {"POST", "/api/v1/admin/assets", kNewAsset, 201},
      {"POST", "/api/v1/admin/assets/hmi-3/disable", "", 200},
      {"POST", "/api/v1/admin/assets/hmi-3/enable", "", 200},
      {"GET", "/api/v1/admin/credentials", "", 200},
      {"POST", "/api/v1/admin/credentials",
       R"({"name":"plc-17/maint","kind":"password","value":"Maint-Pass-4711","description":"PLC"})",
       201},
      {"GET", "/api/v1/admin/policies", "", 200},
  };

  const auto eventsBefore = auditCount(w);
  for (const auto& c : cases) {
    for (auto& [user, browser] : as) {
      INFO(c.method << " " << c.target << " as " << user);
      auto r = w.call(c.method, c.target, &browser, c.body);
      CHECK(r.status == 403);
      CHECK(r.error() == "forbidden");
    }
    INFO(c.method << " " << c.target << " anonymous");
    auto anonymous = w.call(c.method, c.target, nullptr, c.body);
    CHECK(anonymous.status == 401);
    CHECK(anonymous.error() == "unauthenticated");
  }
  // The refusals changed nothing and wrote nothing.
  CHECK(auditCount(w) == eventsBefore);
  CHECK(store::AccessRepository(w.db).vendorByName("initech").error().code ==
        core::ErrorCode::not_found);
  CHECK(store::VaultRepository(w.db).secret("plc-17/maint").error().code ==
        core::ErrorCode::not_found);

  for (const auto& c : cases) {
    INFO(c.method << " " << c.target << " as root");
    auto r = w.call(c.method, c.target, &root, c.body);
    CHECK(r.status == c.adminStatus);
  }

  // A token acts with its scope: admin in scope works, a token of the same person without it
  // does not.
  access::AdminService admin(w.db, w.clock);
  REQUIRE(admin
              .addUser(w.root, {"dual",
                                "Dual",
                                "",
                                {core::Role::admin, core::Role::auditor},
                                {},
                                "dual-password-1",
                                std::nullopt})
              .ok());
  auto uri = access::AuthService(w.db, *w.vault, w.clock).enrolTotp("admin-cli", "dual", "cli");
  REQUIRE(uri.ok());
  const auto p = uri->find("secret=") + 7;
  w.seeds["dual"] = *core::base32Decode(uri->substr(p, uri->find('&', p) - p));
  w.passwords["dual"] = "dual-password-1";
  w.clock.advance(61s);  // past the per-address sign-in rate limit of the sign-ins above
  Browser dual = w.signIn("dual");
  auto auditorOnly =
      w.call("POST", "/api/v1/tokens", &dual, R"({"name":"siem","roles":["auditor"]})");
  auto adminScope = w.call("POST", "/api/v1/tokens", &dual, R"({"name":"ops","roles":["admin"]})");
  REQUIRE(auditorOnly.status == 201);
  REQUIRE(adminScope.status == 201);
  const std::string narrow(auditorOnly.body.at("token").as_string());
  const std::string wide(adminScope.body.at("token").as_string());
  CHECK(bearer(w.router, "GET", "/api/v1/admin/users", narrow).status == 403);
  CHECK(bearer(w.router, "POST", "/api/v1/admin/groups", narrow, R"({"name":"g2"})").status == 403);
  CHECK(bearer(w.router, "GET", "/api/v1/admin/users", wide).status == 200);
  CHECK(bearer(w.router, "POST", "/api/v1/admin/groups", wide, R"({"name":"g2"})").status == 201);
}

TEST_CASE("created vendors, users, groups and assets show in the lists and the audit log") {
  ApiWorld w;
  Browser root = signInRoot(w);

  auto vendor = w.call("POST", "/api/v1/admin/vendors", &root,
                       R"({"name":"initech","contact":"ops@initech.example",
                           "contract_end":"2027-06-30T00:00:00Z"})");
  REQUIRE(vendor.status == 201);
  CHECK(vendor.body.at("contract_end").as_string() == "2027-06-30T00:00:00Z");
  auto vendors = w.call("GET", "/api/v1/admin/vendors", &root);
  CHECK(names(vendors) == std::set<std::string>{"acme", "globex", "initech"});
  CHECK(find(vendors, "initech").at("contact").as_string() == "ops@initech.example");
  CHECK(find(vendors, "initech").at("disabled").as_bool() == false);
  CHECK(find(vendors, "acme").at("contract_end").is_null());
  CHECK(w.lastEventType() == "vendor.created");

  auto group = w.call("POST", "/api/v1/admin/groups", &root,
                      R"({"name":"water","description":"Water treatment"})");
  REQUIRE(group.status == 201);
  auto groups = w.call("GET", "/api/v1/admin/groups", &root);
  CHECK(names(groups) == std::set<std::string>{"line-3-controls", "safety", "water"});
  CHECK(find(groups, "water").at("description").as_string() == "Water treatment");
  CHECK(w.lastEventType() == "group.created");

  const std::string password = "Quite-Long-Password-77";
  auto user = w.call("POST", "/api/v1/admin/users", &root,
                     R"({"username":"walt","display_name":"Walt W","vendor":null,
                         "roles":["engineer"],"groups":["water","safety"],
                         "password":")" +
                         password + R"(","expires_at":"2027-01-31T17:00:00Z"})");
  REQUIRE(user.status == 201);
  CHECK(user.raw.find(password) == std::string::npos);  // never echoed
  CHECK(user.body.at("username").as_string() == "walt");
  CHECK(user.body.at("totp_enrolled").as_bool() == false);
  auto users = w.call("GET", "/api/v1/admin/users", &root);
  CHECK(users.raw.find(password) == std::string::npos);
  CHECK(names(users, "username") ==
        std::set<std::string>{"alice", "bob", "erin", "sam", "ann", "root", "walt"});
  const auto& walt = find(users, "walt", "username");
  CHECK(walt.at("display_name").as_string() == "Walt W");
  CHECK(walt.at("roles") == boost::json::array{"engineer"});
  CHECK(walt.at("groups") == boost::json::array{"safety", "water"});
  CHECK(walt.at("vendor").is_null());
  CHECK(walt.at("disabled").as_bool() == false);
  CHECK(walt.at("expires_at").as_string() == "2027-01-31T17:00:00Z");
  CHECK(walt.at("totp_enrolled").as_bool() == false);
  const auto& alice = find(users, "alice", "username");
  CHECK(alice.at("vendor").as_string() == "acme");
  CHECK(alice.at("totp_enrolled").as_bool() == true);
  CHECK(alice.at("expires_at").is_null());
  CHECK(w.lastEventType() == "user.created");
  for (const auto& e : auditEvents(w)) {
    CHECK(e.draft.details.find(password) == std::string::npos);
  }
  // The new user signs in with that password (and enrols TOTP first).
  Browser b;
  auto login =
      w.call("POST", "/api/v1/login", &b, R"({"username":"walt","password":")" + password + "\"}");
  CHECK(login.status == 200);
  CHECK(login.body.at("next").as_string() == "enrol");

  auto asset = w.call("POST", "/api/v1/admin/assets", &root, kNewAsset);
  REQUIRE(asset.status == 201);
  auto assets = w.call("GET", "/api/v1/admin/assets", &root);
  CHECK(names(assets) == std::set<std::string>{"hmi-3", "plc-17"});
  const auto& plc = find(assets, "plc-17");
  CHECK(plc.at("site").as_string() == "Plant 2");
  CHECK(plc.at("zone").as_string() == "cell-3");
  CHECK(plc.at("criticality").as_string() == "high");
  CHECK(plc.at("owner_group").as_string() == "safety");
  CHECK(plc.at("tags") == boost::json::array{"line-3", "siemens"});
  CHECK(plc.at("max_sessions").as_int64() == 2);
  CHECK(plc.at("disabled").as_bool() == false);
  const auto& endpoints = plc.at("endpoints").as_array();
  REQUIRE(endpoints.size() == 2);
  CHECK(endpoints.at(0).at("protocol").as_string() == "ssh");
  CHECK(endpoints.at(0).at("host").as_string() == "10.20.0.17");
  CHECK(endpoints.at(0).at("port").as_int64() == 22);
  CHECK(endpoints.at(0).at("account").as_string() == "maint");
  CHECK(endpoints.at(0).at("pinned_key").as_string() ==
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOCCSmkhbB4BoRhRR1MBh8rH4Y plc");
  CHECK(endpoints.at(0).at("credential").is_null());
  CHECK(endpoints.at(1).at("protocol").as_string() == "modbus");
  CHECK(endpoints.at(1).at("port").as_int64() == 502);
  CHECK(w.lastEventType() == "asset.created");

  // Disabled assets stay in the admin list (marked) and leave the vendors' list.
  REQUIRE(w.call("POST", "/api/v1/admin/assets/plc-17/disable", &root).status == 200);
  CHECK(w.lastEventType() == "asset.disabled");
  CHECK(find(w.call("GET", "/api/v1/admin/assets", &root), "plc-17").at("disabled").as_bool());
  Browser vendorAlice = w.signIn("alice");
  CHECK(names(w.call("GET", "/api/v1/assets", &vendorAlice)) == std::set<std::string>{"hmi-3"});
  REQUIRE(w.call("POST", "/api/v1/admin/assets/plc-17/enable", &root).status == 200);
  CHECK(w.lastEventType() == "asset.enabled");
  CHECK(names(w.call("GET", "/api/v1/assets", &vendorAlice)) ==
        std::set<std::string>{"hmi-3", "plc-17"});

  auto disabled = w.call("POST", "/api/v1/admin/vendors/initech/disable", &root);
  CHECK(disabled.status == 200);
  CHECK(disabled.body.at("disabled").as_bool());
  CHECK(w.lastEventType() == "vendor.disabled");
  CHECK(find(w.call("GET", "/api/v1/admin/vendors", &root), "initech").at("disabled").as_bool());

  // Every change was made by root from the API caller's address.
  const auto events = store::AuditLog(w.db).list();
  const auto& last = events->back();
  CHECK(last.draft.actor == "root");
  CHECK(last.draft.source == "10.0.0.5");
  CHECK(last.draft.target == "vendor:initech");
}

TEST_CASE("disabling a user ends their portal sessions and revokes their grants") {
  ApiWorld w;
  Browser root = signInRoot(w);
  access::AccessService access(w.db, w.policy, w.clock);
  auto approved = access.vote({"erin", "cli"}, w.aliceRequest, true, "ok");
  REQUIRE(approved.ok());
  REQUIRE(approved->grant.has_value());
  Browser alice = w.signIn("alice");
  REQUIRE(w.call("GET", "/api/v1/me", &alice).status == 200);

  auto r = w.call("POST", "/api/v1/admin/users/alice/disable", &root);
  REQUIRE(r.status == 200);
  CHECK(r.body.at("disabled").as_bool());
  CHECK(w.call("GET", "/api/v1/me", &alice).status == 401);
  CHECK(store::AccessRepository(w.db).grant(approved->grant->id)->state ==
        core::GrantState::revoked);
  CHECK(w.countEvents("user.disabled") == 1);
  CHECK(w.countEvents("grant.revoked") == 1);
  CHECK(find(w.call("GET", "/api/v1/admin/users", &root), "alice", "username")
            .at("disabled")
            .as_bool());
  Browser again;
  CHECK(w.call("POST", "/api/v1/login", &again,
               R"({"username":"alice","password":"alice-password-1"})")
            .status == 401);

  // Enabling lets her sign in again; the revoked grant stays revoked.
  REQUIRE(w.call("POST", "/api/v1/admin/users/alice/enable", &root).status == 200);
  CHECK(w.lastEventType() == "user.enabled");
  w.clock.advance(30s);  // a TOTP code counts once
  Browser back = w.signIn("alice");
  CHECK(w.call("GET", "/api/v1/me", &back).status == 200);
  CHECK(store::AccessRepository(w.db).grant(approved->grant->id)->state ==
        core::GrantState::revoked);

  // An admin cannot disable themselves (no one would be left to undo it here).
  auto self = w.call("POST", "/api/v1/admin/users/root/disable", &root);
  CHECK(self.status == 409);
  CHECK(self.error() == "conflict");
  CHECK_FALSE(store::AccessRepository(w.db).userByName("root")->disabled);
}

TEST_CASE("reset-totp makes the next sign-in enrol again and ends the user's sessions") {
  ApiWorld w;
  Browser root = signInRoot(w);
  Browser erin = w.signIn("erin");
  auto r = w.call("POST", "/api/v1/admin/users/erin/reset-totp", &root);
  REQUIRE(r.status == 200);
  CHECK(r.body.at("totp_enrolled").as_bool() == false);
  CHECK(w.lastEventType() == "user.totp_reset");
  CHECK(w.call("GET", "/api/v1/me", &erin).status == 401);
  CHECK(find(w.call("GET", "/api/v1/admin/users", &root), "erin", "username")
            .at("totp_enrolled")
            .as_bool() == false);

  w.clock.advance(30s);
  Browser b;
  auto login =
      w.call("POST", "/api/v1/login", &b, R"({"username":"erin","password":"erin-password-1"})");
  REQUIRE(login.status == 200);
  CHECK(login.body.at("next").as_string() == "enrol");
  // The old seed's codes no longer sign in.
  CHECK(w.call("POST", "/api/v1/login/totp", &b, R"({"code":")" + w.code("erin") + "\"}").status ==
        401);
  auto enrol = w.call("POST", "/api/v1/login/enrol", &b, "{}");
  CHECK(enrol.status == 200);
}

TEST_CASE("credentials are write-only: the value is in no answer, audit event or plaintext file") {
  ApiWorld w;
  Browser root = signInRoot(w);
  const std::string value = "Maint-Pass-4711-uniq";
  auto stored = w.call("POST", "/api/v1/admin/credentials", &root,
                       R"({"name":"plc-17/maint","kind":"password","value":")" + value +
                           R"(","description":"PLC maintenance"})");
  REQUIRE(stored.status == 201);
  CHECK(stored.body.at("name").as_string() == "plc-17/maint");
  CHECK(stored.body.at("version").as_int64() == 1);
  CHECK(stored.raw.find(value) == std::string::npos);
  CHECK(w.lastEventType() == "secret.created");

  const std::string key =
      "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA-uniq\\n"
      "-----END OPENSSH PRIVATE KEY-----\\n";
  auto pk = w.call("POST", "/api/v1/admin/credentials", &root,
                   R"({"name":"hmi-3/ssh","kind":"private_key","value":")" + key + "\"}");
  REQUIRE(pk.status == 201);

  // A second put is a new version.
  const std::string value2 = "Maint-Pass-4712-uniq";
  auto replaced = w.call("POST", "/api/v1/admin/credentials", &root,
                         R"({"name":"plc-17/maint","kind":"password","value":")" + value2 + "\"}");
  REQUIRE(replaced.status == 201);
  CHECK(replaced.body.at("version").as_int64() == 2);
  CHECK(w.lastEventType() == "secret.replaced");

  auto list = w.call("GET", "/api/v1/admin/credentials", &root);
  REQUIRE(list.status == 200);
  // Only credentials: the broker's own secrets (signing keys, TOTP seeds) are not listed.
  CHECK(names(list) == std::set<std::string>{"hmi-3/ssh", "plc-17/maint"});
  const auto& plc = find(list, "plc-17/maint");
  CHECK(plc.at("kind").as_string() == "password");
  CHECK(plc.at("version").as_int64() == 2);
  CHECK(plc.at("created_at").as_string() == "2026-11-26T08:00:00Z");
  CHECK(find(list, "hmi-3/ssh").at("kind").as_string() == "private_key");
  CHECK_FALSE(plc.as_object().contains("value"));

  for (const auto& v : {value, value2, std::string("b3BlbnNzaC1rZXktdjEAAAAA-uniq")}) {
    INFO(v);
    CHECK(list.raw.find(v) == std::string::npos);
    for (const auto& e : auditEvents(w)) {
      CHECK(e.draft.details.find(v) == std::string::npos);
    }
    auto audit = w.call("GET", "/api/v1/audit?limit=1000", &root);
    CHECK(audit.raw.find(v) == std::string::npos);
    for (const char* file : {"c.db", "c.db-wal"}) {
      CHECK(fileBytes(w.dir / file).find(v) == std::string::npos);
    }
  }
  // ...and the vault holds the newest value for the broker to use.
  auto lease = w.vault->checkout({"test", "test"}, "plc-17/maint", "check");
  REQUIRE(lease.ok());
  CHECK(std::string(reinterpret_cast<const char*>(lease->value().data()), lease->value().size()) ==
        value2);
}

TEST_CASE("a sealed vault answers credential writes with 503") {
  ApiWorld w;
  Browser root = signInRoot(w);
  const std::string token = adminToken(w, root);
  access::VaultService sealed(w.db, w.clock);  // never unsealed
  auto db = store::Database::open(w.dir / "c.db");
  REQUIRE(db.ok());
  portal::PortalApi api(std::move(*db), w.policy, sealed, w.clock, {});
  portal::Router router;
  api.addRoutes(router);
  auto r = bearer(router, "POST", "/api/v1/admin/credentials", token,
                  R"({"name":"plc-17/maint","kind":"password","value":"Maint-Pass-4711"})");
  CHECK(r.status == 503);
  CHECK(r.error() == "unavailable");
  CHECK(std::string(r.body.at("message").as_string()).find("sealed") != std::string::npos);
  CHECK(r.raw.find("Maint-Pass-4711") == std::string::npos);
  CHECK(names(bearer(router, "GET", "/api/v1/admin/credentials", token)).empty());
}

TEST_CASE("bad admin input gets the right 4xx with a JSON message and changes nothing") {
  ApiWorld w;
  Browser root = signInRoot(w);
  REQUIRE(w.call("POST", "/api/v1/admin/credentials", &root,
                 R"({"name":"db/pw","kind":"password","value":"Some-Value-123"})")
              .status == 201);
  struct Bad {
    std::string target, body;
    int status;
  };
  const std::string user =
      R"("display_name":"X","groups":[],"password":"long-enough-password","expires_at":null)";
  const std::string ep = R"("name":"plc-9","owner_group":"safety","endpoints":)";
  const std::vector<Bad> bad = {
      // vendors
      {"/api/v1/admin/vendors", "{not json", 400},
      {"/api/v1/admin/vendors", "[1,2]", 400},
      {"/api/v1/admin/vendors", R"({"name":5})", 400},
      {"/api/v1/admin/vendors", R"({"contact":"x"})", 400},
      {"/api/v1/admin/vendors", R"({"name":"bad name!"})", 400},
      {"/api/v1/admin/vendors", R"({"name":"v+x"})", 400},
      {"/api/v1/admin/vendors", R"({"name":"x1","contract_end":"next week"})", 400},
      {"/api/v1/admin/vendors", R"({"name":"x1","contract_end":20270101})", 400},
      {"/api/v1/admin/vendors", R"({"name":"acme"})", 409},
      {"/api/v1/admin/vendors/nobody/disable", "", 404},
      {"/api/v1/admin/vendors/..%2F..%2Fetc/disable", "", 404},
      // users
      {"/api/v1/admin/users", R"({"username":"u1","roles":"admin",)" + user + "}", 400},
      {"/api/v1/admin/users", R"({"username":"u1","roles":["king"],)" + user + "}", 400},
      {"/api/v1/admin/users", R"({"username":"u1","roles":[],)" + user + "}", 400},
      {"/api/v1/admin/users", R"({"username":"u1","roles":["admin"],"password":"short"})", 400},
      {"/api/v1/admin/users", R"({"username":"u1","roles":["admin"],"password":7})", 400},
      {"/api/v1/admin/users", R"({"username":"u1","roles":["admin"]})", 400},
      {"/api/v1/admin/users", R"({"username":"u1","roles":["vendor"],)" + user + "}", 400},
      {"/api/v1/admin/users",
       R"({"username":"u1","roles":["admin"],"password":"long-enough-password",)"
       R"("expires_at":"soon"})",
       400},
      {"/api/v1/admin/users", R"({"username":"alice","roles":["admin"],)" + user + "}", 409},
      {"/api/v1/admin/users",
       R"({"username":"u1","roles":["vendor"],"vendor":"nosuch",)" + user + "}", 404},
      {"/api/v1/admin/users",
       R"({"username":"u1","roles":["engineer"],"groups":["nosuch"],)"
       R"("password":"long-enough-password"})",
       404},
      {"/api/v1/admin/users/nobody/disable", "", 404},
      {"/api/v1/admin/users/nobody/enable", "", 404},
      {"/api/v1/admin/users/nobody/reset-totp", "", 404},
      // groups
      {"/api/v1/admin/groups", R"({"name":"safety"})", 409},
      {"/api/v1/admin/groups", R"({"name":""})", 400},
      {"/api/v1/admin/groups", R"({"name":"g","description":["x"]})", 400},
      // assets
      {"/api/v1/admin/assets", "{" + ep + R"([{"protocol":"telnet","host":"h","port":23}]})", 400},
      {"/api/v1/admin/assets", "{" + ep + R"([{"protocol":"ssh","host":"h","port":"22"}]})", 400},
      {"/api/v1/admin/assets", "{" + ep + R"([{"protocol":"modbus","host":"h","port":70000}]})",
       400},
      {"/api/v1/admin/assets", "{" + ep + R"([{"protocol":"modbus","port":502}]})", 400},
      {"/api/v1/admin/assets", "{" + ep + R"([{"protocol":"ssh","host":"h","port":22}]})", 400},
      {"/api/v1/admin/assets",
       "{" + ep +
           R"([{"protocol":"ssh","host":"h","port":22,"account":"a","pinned_key":"not a key"}]})",
       400},
      {"/api/v1/admin/assets",
       "{" + ep +
           R"([{"protocol":"modbus","host":"h","port":502},)"
           R"({"protocol":"modbus","host":"h","port":503}]})",
       400},
      {"/api/v1/admin/assets", "{" + ep + R"("ssh"})", 400},
      {"/api/v1/admin/assets", R"({"name":"plc-9","owner_group":"safety","criticality":"huge"})",
       400},
      {"/api/v1/admin/assets", R"({"name":"plc-9","owner_group":"safety","max_sessions":0})", 400},
      {"/api/v1/admin/assets", R"({"name":"plc-9","owner_group":"nosuch"})", 404},
      {"/api/v1/admin/assets", R"({"name":"hmi-3","owner_group":"safety"})", 409},
      {"/api/v1/admin/assets/nosuch/disable", "", 404},
      // credentials
      {"/api/v1/admin/credentials", R"({"name":"c1","kind":"password","value":""})", 400},
      {"/api/v1/admin/credentials", R"({"name":"c1","kind":"password"})", 400},
      {"/api/v1/admin/credentials", R"({"name":"c1","kind":"password","value":42})", 400},
      {"/api/v1/admin/credentials", R"({"name":"c1","kind":"certificate","value":"v"})", 400},
      {"/api/v1/admin/credentials", R"({"name":"c 1","kind":"password","value":"v"})", 400},
      {"/api/v1/admin/credentials", R"({"name":"user/root/totp","kind":"password","value":"v"})",
       400},
      {"/api/v1/admin/credentials", R"({"name":"k1","kind":"private_key","value":"AAAA"})", 400},
      {"/api/v1/admin/credentials",
       R"({"name":"db/pw","kind":"private_key","value":"-----BEGIN KEY-----"})", 409},
      {"/api/v1/admin/credentials",
       R"({"name":"recording/signing","kind":"password","value":"v","exclusive":"yes"})", 400},
  };
  const auto eventsBefore = auditCount(w);
  const auto listed = [&] {
    std::string all;
    for (const char* path : {"vendors", "users", "groups", "assets", "credentials"}) {
      all += w.call("GET", std::string("/api/v1/admin/") + path, &root).raw;
    }
    return all;
  };
  const std::string before = listed();
  for (const auto& b : bad) {
    INFO("POST " << b.target << " " << b.body.substr(0, 120));
    auto r = w.call("POST", b.target, &root, b.body);
    CHECK(r.status == b.status);
    CHECK_FALSE(r.error().empty());
    CHECK(r.body.at("message").is_string());
  }
  CHECK(listed() == before);
  CHECK(auditCount(w) == eventsBefore);
  CHECK(w.call("GET", "/api/v1/admin/nothing-here", &root).status == 404);
  CHECK(w.call("DELETE", "/api/v1/admin/vendors", &root).status == 405);
}

TEST_CASE("GET /admin/policies shows each file's rules and a broken edit's file:line error") {
  ApiWorld w;
  Browser root = signInRoot(w);
  const std::string token = adminToken(w, root);
  const auto good = w.dir / "10-vendors.toml";
  const auto edited = w.dir / "20-night.toml";
  std::ofstream(good) << test::kApiPolicy;
  std::ofstream(edited) << "[[rule]]\nid = \"night\"\neffect = \"deny\"\nreason = \"closed\"\n"
                           "[rule.match]\nroles = [\"vendor\"]\n";
  auto loaded = policies::PolicySet::load({good, edited});
  REQUIRE(loaded.ok());
  portal::ApiOptions options;
  options.policyFiles = {good, edited};
  auto db = store::Database::open(w.dir / "c.db");
  REQUIRE(db.ok());
  portal::PortalApi api(std::move(*db), *loaded, *w.vault, w.clock, options);
  portal::Router router;
  api.addRoutes(router);

  auto fine = bearer(router, "GET", "/api/v1/admin/policies", token);
  REQUIRE(fine.status == 200);
  CHECK(fine.body.at("ok").as_bool());
  CHECK(fine.body.at("loaded_rules").as_int64() == 2);
  const auto& files = fine.body.at("files").as_array();
  REQUIRE(files.size() == 2);
  CHECK(files.at(0).at("path").as_string() == good.string());
  CHECK(files.at(0).at("loaded_rules").as_int64() == 1);
  CHECK(files.at(0).at("ok").as_bool());
  CHECK(files.at(0).at("rules").as_int64() == 1);
  CHECK(files.at(0).at("error").is_null());
  CHECK(files.at(1).at("ok").as_bool());

  // An edit on disk breaks line 3: shown now, while the loaded rules still apply.
  std::ofstream(edited) << "[[rule]]\nid = \"night\"\neffect = \"maybe\"\n";
  auto broken = bearer(router, "GET", "/api/v1/admin/policies", token);
  REQUIRE(broken.status == 200);
  CHECK_FALSE(broken.body.at("ok").as_bool());
  const auto& now = broken.body.at("files").as_array();
  CHECK(now.at(0).at("ok").as_bool());
  CHECK_FALSE(now.at(1).at("ok").as_bool());
  CHECK(now.at(1).at("rules").is_null());
  CHECK(now.at(1).at("loaded_rules").as_int64() == 1);
  const std::string error(now.at(1).at("error").as_string());
  INFO(error);
  CHECK(error.starts_with(edited.string() + ":"));
  CHECK(error.find(":3: ") != std::string::npos);
  CHECK(std::string(broken.body.at("error").as_string()) == error);

  // A file that cannot be read any more says so.
  std::filesystem::remove(edited);
  auto gone = bearer(router, "GET", "/api/v1/admin/policies", token);
  CHECK_FALSE(gone.body.at("files").at(1).at("ok").as_bool());
  CHECK(std::string(gone.body.at("files").at(1).at("error").as_string()).find("cannot read") !=
        std::string::npos);

  // Policies are admin business too.
  Browser ann = w.signIn("ann");
  CHECK(w.call("GET", "/api/v1/admin/policies", &ann).status == 403);
}
