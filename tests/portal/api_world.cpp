#include "api_world.hpp"

#include "conduit/access/access_service.hpp"

namespace conduit::test {

namespace {

store::Database openDb(const TempDir& dir) {
  auto d = store::Database::open(dir / "c.db");
  REQUIRE(d.ok());
  REQUIRE(store::migrate(*d).ok());
  return std::move(*d);
}

}  // namespace

ApiWorld::ApiWorld() : db(openDb(dir)) {
  vault = std::make_unique<access::VaultService>(db, clock);
  const auto key = vault::generateMasterKey();
  REQUIRE(access::VaultService::initialise(db, clock, key, std::nullopt).ok());
  REQUIRE(vault->unsealWithKey(vault::MasterKey::fromBytes(key.reveal())).ok());

  access::AdminService admin(db, clock);
  REQUIRE(admin.addGroup(root, {0, "line-3-controls", ""}).ok());
  REQUIRE(admin.addGroup(root, {0, "safety", ""}).ok());
  REQUIRE(admin.addVendor(root, {0, "acme", "", std::nullopt, false}).ok());
  REQUIRE(admin.addVendor(root, {0, "globex", "", std::nullopt, false}).ok());
  struct U {
    const char* name;
    const char* vendor;
    core::Role role;
    const char* group;
  };
  const U users[] = {{"alice", "acme", core::Role::vendor, ""},
                     {"bob", "globex", core::Role::vendor, ""},
                     {"erin", "", core::Role::engineer, "line-3-controls"},
                     {"sam", "", core::Role::engineer, "safety"},
                     {"ann", "", core::Role::auditor, ""},
                     {"root", "", core::Role::admin, ""}};
  access::AuthService auth(db, *vault, clock);
  for (const auto& u : users) {
    const std::string password = std::string(u.name) + "-password-1";
    std::set<std::string> groups;
    if (*u.group) groups.insert(u.group);
    REQUIRE(
        admin.addUser(root, {u.name, u.name, u.vendor, {u.role}, groups, password, std::nullopt})
            .ok());
    passwords[u.name] = password;
    if (std::string(u.name) == "root") continue;  // root enrols through the portal in a test
    auto uri = auth.enrolTotp("admin-cli", u.name, "cli");
    REQUIRE(uri.ok());
    const auto p = uri->find("secret=") + 7;
    seeds[u.name] = *core::base32Decode(uri->substr(p, uri->find('&', p) - p));
  }
  core::Asset hmi;
  hmi.name = "hmi-3";
  hmi.ownerGroup = "line-3-controls";
  hmi.criticality = core::Criticality::medium;
  hmi.endpoints = {{0, core::Protocol::ssh, "127.0.0.1", 22, "maint", ""}};
  REQUIRE(admin.addAsset(root, hmi).ok());

  access::AccessService access(db, policy, clock);
  auto request = access.requestAccess(
      {"alice", "cli"}, "hmi-3",
      {{core::Protocol::ssh}, clock.now(), std::chrono::hours(2), "update screens", "CHG-1"});
  REQUIRE(request.ok());
  aliceRequest = request->id;

  auto apiDb = store::Database::open(dir / "c.db");
  REQUIRE(apiDb.ok());
  portal::ApiOptions options;
  options.loginBanner = "Authorised use only";
  options.recordingsDir = dir / "recordings";
  api = std::make_unique<portal::PortalApi>(std::move(*apiDb), policy, *vault, clock, options);
  api->addRoutes(router);
}

Response ApiWorld::call(const std::string& method, const std::string& target, Browser* browser,
                        const std::string& body, bool withCsrf, const std::string& source) {
  portal::HttpRequest r;
  r.method = method;
  const auto q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  r.body = body;
  r.remoteAddress = source;
  if (!body.empty()) r.headers.emplace_back("content-type", "application/json");
  if (browser && !browser->cookie.empty()) {
    r.headers.emplace_back("cookie", "theme=dark; __Host-conduit-session=" + browser->cookie);
  }
  if (browser && withCsrf && !browser->csrf.empty()) {
    r.headers.emplace_back("x-csrf-token", browser->csrf);
  }
  const portal::HttpResponse res = router.dispatch(r);
  Response out;
  out.status = res.status;
  out.headers = res.headers;
  out.raw = res.body;
  if (res.contentType.starts_with("application/json") && !res.body.empty()) {
    out.body = boost::json::parse(res.body);
  }
  if (browser) {
    for (const auto& [name, value] : res.headers) {
      if (name != "Set-Cookie") continue;
      const auto eq = value.find('=');
      browser->cookie = value.substr(eq + 1, value.find(';') - eq - 1);
    }
    if (out.body.is_object() && out.body.as_object().contains("csrf")) {
      browser->csrf = std::string(out.body.at("csrf").as_string());
    }
  }
  return out;
}

std::string ApiWorld::code(const std::string& user) {
  return core::totpCode(seeds.at(user), core::totpStep(clock.now()));
}

Browser ApiWorld::signIn(const std::string& user) {
  Browser b;
  auto first = call("POST", "/api/v1/login", &b,
                    R"({"username":")" + user + R"(","password":")" + passwords.at(user) + "\"}");
  REQUIRE(first.status == 200);
  REQUIRE(first.body.at("next").as_string() == "totp");
  auto second = call("POST", "/api/v1/login/totp", &b, R"({"code":")" + code(user) + "\"}");
  REQUIRE(second.status == 200);
  return b;
}

std::string ApiWorld::lastEventType() {
  return store::AuditLog(db).list()->back().draft.type;
}

std::int64_t ApiWorld::countEvents(const std::string& type) {
  std::int64_t n = 0;
  const auto events = store::AuditLog(db).list();
  for (const auto& e : *events) n += e.draft.type == type;
  return n;
}

}  // namespace conduit::test
