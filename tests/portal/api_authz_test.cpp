// The authorisation matrix: every API endpoint x every role, plus another vendor's objects
// (portal issue, item 6). Expected statuses are written out per role so a loosened check fails.
#include <sstream>

#include "api_world.hpp"
#include "conduit/access/access_service.hpp"
#include "conduit/store/portal_repository.hpp"
#include "conduit/store/recording_index.hpp"

using namespace conduit;
using namespace std::chrono_literals;
using test::ApiWorld;
using test::Browser;

namespace {

struct Case {
  const char* method;
  std::string target;
  std::string body;
  std::map<std::string, int> expect;  // user -> status
};

std::set<std::int64_t> ids(const boost::json::value& list) {
  std::set<std::int64_t> out;
  for (const auto& v : list.as_array()) out.insert(v.at("id").as_int64());
  return out;
}

}  // namespace

TEST_CASE("authorisation matrix: each endpoint answers each role as documented") {
  ApiWorld w;
  std::map<std::string, Browser> as;
  for (const char* u : {"alice", "bob", "erin", "sam", "ann"}) as[u] = w.signIn(u);

  // A grant of alice's to act on, and a live session under it.
  access::AccessService access(w.db, w.policy, w.clock);
  auto approved = access.vote({"erin", "cli"}, w.aliceRequest, true, "ok");
  REQUIRE(approved.ok());
  const std::int64_t grant = approved->grant->id;
  REQUIRE(store::SessionRepository(w.db)
              .started({"ssh-1-1", "alice", "hmi-3", "ssh", "10.0.0.5", grant, w.clock.now(),
                        w.clock.now() + 1h, std::nullopt, "", 0, 0})
              .ok());
  auto second = access.requestAccess({"alice", "cli"}, "hmi-3",
                                     {{core::Protocol::ssh}, w.clock.now(), 1h, "more", ""});
  REQUIRE(second.ok());
  const std::string req = std::to_string(second->id);
  const std::string g = std::to_string(grant);

  const std::vector<Case> cases = {
      {"GET",
       "/api/v1/assets",
       "",
       {{"alice", 200}, {"bob", 200}, {"erin", 200}, {"sam", 200}, {"ann", 200}}},
      {"GET",
       "/api/v1/requests/" + req,
       "",
       {{"alice", 200}, {"bob", 404}, {"erin", 200}, {"sam", 404}, {"ann", 200}}},
      {"GET",
       "/api/v1/requests/" + req + "/explain",
       "",
       {{"alice", 403}, {"bob", 403}, {"erin", 200}, {"sam", 404}, {"ann", 200}}},
      {"POST",
       "/api/v1/requests",
       R"({"asset":"hmi-3","protocols":["ssh"],"duration_minutes":30,"reason":"r"})",
       {{"erin", 403}, {"sam", 403}, {"ann", 403}}},
      {"POST",
       "/api/v1/requests/" + req + "/approve",
       R"({"comment":"x"})",
       {{"alice", 403}, {"bob", 403}, {"sam", 404}, {"ann", 403}}},
      {"POST",
       "/api/v1/requests/" + req + "/deny",
       R"({"comment":"x"})",
       {{"alice", 403}, {"bob", 403}, {"sam", 404}, {"ann", 403}}},
      {"POST", "/api/v1/requests/" + req + "/cancel", "{}", {{"bob", 404}, {"sam", 404}}},
      {"POST",
       "/api/v1/grants/" + g + "/revoke",
       R"({"reason":"x"})",
       {{"alice", 403}, {"bob", 403}, {"sam", 404}, {"ann", 403}}},
      {"POST",
       "/api/v1/grants/" + g + "/reinstate",
       R"({"comment":"x"})",
       {{"alice", 403}, {"bob", 403}, {"sam", 404}, {"ann", 403}}},
      {"POST",
       "/api/v1/sessions/ssh-1-1/kill",
       R"({"reason":"x"})",
       {{"alice", 403}, {"bob", 403}, {"sam", 404}, {"ann", 403}}},
      {"POST",
       "/api/v1/sessions/kill-all",
       R"({"confirm":"END ALL VENDOR SESSIONS"})",
       {{"alice", 403}, {"bob", 403}, {"ann", 403}}},
      {"GET",
       "/api/v1/audit",
       "",
       {{"alice", 403}, {"bob", 403}, {"erin", 403}, {"sam", 403}, {"ann", 200}}},
      {"GET",
       "/api/v1/audit/verify",
       "",
       {{"alice", 403}, {"bob", 403}, {"erin", 403}, {"sam", 403}, {"ann", 200}}},
      {"GET",
       "/api/v1/recordings",
       "",
       {{"alice", 403}, {"bob", 403}, {"erin", 200}, {"sam", 200}, {"ann", 200}}},
      {"GET",
       "/api/v1/recordings/ssh-1-1/verify",
       "",
       {{"alice", 403}, {"bob", 403}, {"erin", 403}, {"ann", 404}}},
      {"GET",
       "/api/v1/recordings/ssh-1-1/cast",
       "",
       {{"alice", 403}, {"bob", 403}, {"erin", 403}, {"ann", 404}}},
      {"GET", "/api/v1/me/ssh-keys", "", {{"alice", 200}, {"erin", 200}}},
      {"GET", "/api/v1/tokens", "", {{"alice", 200}, {"ann", 200}}},
  };
  for (const auto& c : cases) {
    for (const auto& [user, status] : c.expect) {
      INFO(c.method << " " << c.target << " as " << user);
      auto r = w.call(c.method, c.target, &as[user], c.body);
      CHECK(r.status == status);
      if (r.status >= 400) CHECK_FALSE(r.error().empty());  // always a JSON error
    }
  }
  // Nothing above changed the request or the grant.
  CHECK(store::AccessRepository(w.db).request(second->id)->state == core::RequestState::pending);
  CHECK(store::AccessRepository(w.db).grant(grant)->state == core::GrantState::active);

  // Without a session: 401 everywhere except the public banner.
  for (const auto& c : cases) {
    INFO(c.method << " " << c.target << " anonymous");
    CHECK(w.call(c.method, c.target, nullptr, c.body).status == 401);
  }
}

TEST_CASE("lists show a vendor only their organisation's objects, an engineer their groups'") {
  ApiWorld w;
  access::AccessService access(w.db, w.policy, w.clock);
  REQUIRE(access.vote({"erin", "cli"}, w.aliceRequest, true, "ok").ok());
  auto bobs = access.requestAccess({"bob", "cli"}, "hmi-3",
                                   {{core::Protocol::ssh}, w.clock.now(), 1h, "globex work", ""});
  REQUIRE(bobs.ok());
  Browser alice = w.signIn("alice"), bob = w.signIn("bob"), erin = w.signIn("erin"),
          sam = w.signIn("sam"), ann = w.signIn("ann");
  CHECK(ids(w.call("GET", "/api/v1/requests", &alice).body) ==
        std::set<std::int64_t>{w.aliceRequest});
  CHECK(ids(w.call("GET", "/api/v1/requests", &bob).body) == std::set<std::int64_t>{bobs->id});
  CHECK(ids(w.call("GET", "/api/v1/requests", &erin).body).size() == 2);
  CHECK(ids(w.call("GET", "/api/v1/requests", &sam).body).empty());
  CHECK(ids(w.call("GET", "/api/v1/requests", &ann).body).size() == 2);
  CHECK(w.call("GET", "/api/v1/grants", &alice).body.as_array().size() == 1);
  CHECK(w.call("GET", "/api/v1/grants", &bob).body.as_array().empty());
  CHECK(w.call("GET", "/api/v1/grants", &sam).body.as_array().empty());
  auto pending = w.call("GET", "/api/v1/requests?state=pending", &erin);
  CHECK(ids(pending.body) == std::set<std::int64_t>{bobs->id});
  // Newest first.
  auto all = w.call("GET", "/api/v1/requests", &erin).body.as_array();
  CHECK(all.at(0).at("id").as_int64() > all.at(1).at("id").as_int64());
  CHECK(w.call("GET", "/api/v1/requests?state=bogus", &erin).status == 400);
}

TEST_CASE("approve, revoke and the ssh command through the API") {
  ApiWorld w;
  Browser alice = w.signIn("alice"), erin = w.signIn("erin");
  const std::string id = std::to_string(w.aliceRequest);
  // No one approves their own request, even an engineer-vendor; here: alice may not at all.
  CHECK(
      w.call("POST", "/api/v1/requests/" + id + "/approve", &alice, R"({"comment":"me"})").status ==
      403);
  auto ok = w.call("POST", "/api/v1/requests/" + id + "/approve", &erin, R"({"comment":"go"})");
  REQUIRE(ok.status == 200);
  CHECK(ok.body.at("request").at("state").as_string() == "approved");
  const auto grant = ok.body.at("grant");
  CHECK(grant.at("ssh_command").as_string() == "ssh -p 2222 alice+hmi-3@127.0.0.1");
  CHECK(grant.at("seconds_left").as_int64() == 7200);
  // Twice is a conflict, not a second grant.
  CHECK(w.call("POST", "/api/v1/requests/" + id + "/approve", &erin, R"({"comment":"again"})")
            .status == 409);
  const std::string g = std::to_string(grant.at("id").as_int64());
  CHECK(w.call("POST", "/api/v1/grants/" + g + "/revoke", &erin, R"({})").status == 400);
  auto revoked = w.call("POST", "/api/v1/grants/" + g + "/revoke", &erin, R"({"reason":"done"})");
  REQUIRE(revoked.status == 200);
  CHECK(revoked.body.at("state").as_string() == "revoked");
  CHECK(w.call("GET", "/api/v1/grants", &alice).body.at(0).at("seconds_left").as_int64() == 0);
}

TEST_CASE("killing a live session suspends its grant so the gateway ends it") {
  ApiWorld w;
  access::AccessService access(w.db, w.policy, w.clock);
  auto approved = access.vote({"erin", "cli"}, w.aliceRequest, true, "ok");
  REQUIRE(approved.ok());
  REQUIRE(store::SessionRepository(w.db)
              .started({"ssh-9-1", "alice", "hmi-3", "ssh", "10.0.0.5", approved->grant->id,
                        w.clock.now(), w.clock.now() + 1h, std::nullopt, "", 0, 0})
              .ok());
  Browser erin = w.signIn("erin"), alice = w.signIn("alice");
  auto live = w.call("GET", "/api/v1/sessions", &erin);
  REQUIRE(live.body.as_array().size() == 1);
  CHECK(live.body.at(0).at("user").as_string() == "alice");
  CHECK(w.call("GET", "/api/v1/sessions", &alice).body.as_array().size() == 1);
  auto check = [&] {
    auto c = access.checkConnect({"alice", "t"}, "alice", "hmi-3", core::Protocol::ssh, true);
    return std::holds_alternative<core::AccessGranted>(c->check);
  };
  REQUIRE(check());
  auto kill =
      w.call("POST", "/api/v1/sessions/ssh-9-1/kill", &erin, R"({"reason":"unexpected writes"})");
  CHECK(kill.status == 200);
  CHECK_FALSE(check());  // what the gateway's once-a-second re-check sees
  CHECK(w.countEvents("session.killed") == 1);
  CHECK(store::AccessRepository(w.db).grant(approved->grant->id)->state ==
        core::GrantState::suspended);
}

TEST_CASE("end all vendor sessions needs the exact confirmation phrase") {
  ApiWorld w;
  access::AccessService access(w.db, w.policy, w.clock);
  auto approved = access.vote({"erin", "cli"}, w.aliceRequest, true, "ok");
  REQUIRE(approved.ok());
  REQUIRE(store::SessionRepository(w.db)
              .started({"ssh-9-2", "alice", "hmi-3", "ssh", "10.0.0.5", approved->grant->id,
                        w.clock.now(), w.clock.now() + 1h, std::nullopt, "", 0, 0})
              .ok());
  Browser erin = w.signIn("erin");
  CHECK(w.call("POST", "/api/v1/sessions/kill-all", &erin, R"({"confirm":"yes"})").status == 400);
  CHECK(store::AccessRepository(w.db).grant(approved->grant->id)->state ==
        core::GrantState::active);
  auto all = w.call("POST", "/api/v1/sessions/kill-all", &erin,
                    R"({"confirm":"END ALL VENDOR SESSIONS","reason":"incident"})");
  REQUIRE(all.status == 200);
  CHECK(all.body.at("suspended_grants").as_int64() == 1);
  CHECK(store::AccessRepository(w.db).grant(approved->grant->id)->state ==
        core::GrantState::suspended);
}

TEST_CASE("bad input gets the right 4xx with a JSON message and changes nothing") {
  ApiWorld w;
  Browser alice = w.signIn("alice");
  const auto before = w.call("GET", "/api/v1/requests", &alice).body.as_array().size();
  struct Bad {
    std::string method, target, body;
    int status;
  };
  const std::vector<Bad> bad = {
      {"POST", "/api/v1/requests", "{not json", 400},
      {"POST", "/api/v1/requests", "[1,2]", 400},
      {"POST", "/api/v1/requests",
       R"({"asset":"hmi-3","protocols":"ssh","duration_minutes":30,"reason":"r"})", 400},
      {"POST", "/api/v1/requests",
       R"({"asset":"hmi-3","protocols":["ssh"],"duration_minutes":"30","reason":"r"})", 400},
      {"POST", "/api/v1/requests",
       R"({"asset":"hmi-3","protocols":["telnet"],"duration_minutes":30,"reason":"r"})", 400},
      {"POST", "/api/v1/requests",
       R"({"asset":"hmi-3","protocols":["ssh"],"duration_minutes":-5,"reason":"r"})", 400},
      {"POST", "/api/v1/requests",
       R"({"asset":"hmi-3","protocols":["ssh"],"duration_minutes":30,"reason":")" +
           std::string(3000, 'x') + "\"}",
       400},
      {"POST", "/api/v1/requests",
       R"({"asset":"no-such","protocols":["ssh"],"duration_minutes":30,"reason":"r"})", 404},
      {"GET", "/api/v1/requests/999999", "", 404},
      {"GET", "/api/v1/requests/..%2F..%2Fetc%2Fpasswd", "", 404},
      {"GET", "/api/v1/requests/-1", "", 404},
      {"GET", "/api/v1/requests/1e3", "", 404},
      {"POST", "/api/v1/requests/99999999999999999999/cancel", "{}", 404},
      {"GET", "/api/v1/recordings/..%2Fconduit.db/verify", "", 403},
      {"DELETE", "/api/v1/requests", "", 405},
      {"GET", "/api/v1/nothing-here", "", 404},
  };
  for (const auto& b : bad) {
    INFO(b.method << " " << b.target << " " << b.body.substr(0, 80));
    auto r = w.call(b.method, b.target, &alice, b.body);
    CHECK(r.status == b.status);
    CHECK_FALSE(r.error().empty());
    CHECK(r.body.at("message").is_string());
  }
  CHECK(w.call("GET", "/api/v1/requests", &alice).body.as_array().size() == before);
}

TEST_CASE("user-supplied text comes back literally") {
  ApiWorld w;
  Browser alice = w.signIn("alice");
  const std::string reason = R"(<script>alert("x")</script> & 'quotes' \u00e9)";
  boost::json::object body{{"asset", "hmi-3"},
                           {"protocols", boost::json::array{"ssh"}},
                           {"duration_minutes", 30},
                           {"reason", reason},
                           {"ticket", "<img src=x onerror=alert(1)>"}};
  auto r = w.call("POST", "/api/v1/requests", &alice, boost::json::serialize(body));
  REQUIRE(r.status == 201);
  CHECK(r.body.at("reason").as_string() == reason);
  CHECK(r.body.at("ticket").as_string() == "<img src=x onerror=alert(1)>");
}

TEST_CASE("API tokens: scoped to the owner's roles, no CSRF, revocable") {
  ApiWorld w;
  Browser ann = w.signIn("ann");
  CHECK(w.call("POST", "/api/v1/tokens", &ann, R"({"name":"x","roles":["admin"]})").status == 400);
  auto made =
      w.call("POST", "/api/v1/tokens", &ann, R"({"name":"siem export","roles":["auditor"]})");
  REQUIRE(made.status == 201);
  const std::string token(made.body.at("token").as_string());
  CHECK(token.starts_with("ct_"));

  auto bearer = [&](const std::string& method, const std::string& target, const std::string& t) {
    portal::HttpRequest r;
    r.method = method;
    r.path = target;
    r.remoteAddress = "10.0.0.9";
    r.headers.emplace_back("authorization", "Bearer " + t);
    if (method == "POST") {
      r.headers.emplace_back("content-type", "application/json");
      r.body = R"({"name":"n","roles":["auditor"]})";
    }
    return w.router.dispatch(r).status;
  };
  CHECK(bearer("GET", "/api/v1/audit/verify", token) == 200);
  CHECK(bearer("GET", "/api/v1/audit/verify", token + "x") == 401);
  CHECK(bearer("POST", "/api/v1/tokens", token) == 403);  // a token cannot mint tokens
  const std::string id = std::to_string(made.body.at("id").as_int64());
  auto listed = w.call("GET", "/api/v1/tokens", &ann);
  REQUIRE(listed.body.as_array().size() == 1);
  CHECK(listed.raw.find(token) == std::string::npos);  // shown once, never again
  // Another user cannot see or revoke it.
  Browser erin = w.signIn("erin");
  CHECK(w.call("DELETE", "/api/v1/tokens/" + id, &erin).status == 404);
  CHECK(w.call("DELETE", "/api/v1/tokens/" + id, &ann).status == 204);
  CHECK(bearer("GET", "/api/v1/audit/verify", token) == 401);
  CHECK(w.countEvents("token.revoked") == 1);
}

TEST_CASE("auditors export the audit trail as JSON lines that verify independently") {
  ApiWorld w;
  Browser ann = w.signIn("ann"), alice = w.signIn("alice");
  CHECK(w.call("GET", "/api/v1/audit/export", &alice).status == 403);
  CHECK(w.call("GET", "/api/v1/audit/export?since=yesterday", &ann).status == 400);
  auto r = w.call("GET", "/api/v1/audit/export", &ann);
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Disposition").find("audit.jsonl") != std::string::npos);
  // Every line is an event with its hashes; each line's prev_hash is the previous line's hash.
  std::istringstream lines(r.raw);
  std::string line, previous = core::genesisHash();
  std::int64_t n = 0;
  while (std::getline(lines, line)) {
    auto e = boost::json::parse(line).as_object();
    CHECK(e.at("prev_hash").as_string() == previous);
    previous = std::string(e.at("hash").as_string());
    ++n;
  }
  CHECK(n > 10);
  CHECK(w.lastEventType() == "audit.exported");  // the export itself is in the trail
  CHECK(w.call("GET", "/api/v1/recordings/ssh-1-1/export?format=exe", &ann).status == 400);
  CHECK(w.call("GET", "/api/v1/recordings/ssh-1-1/export?format=jsonl", &ann).status == 404);
}

TEST_CASE("auditors find sessions by vendor and time as well as user, asset and text") {
  ApiWorld w;
  const auto t0 = w.clock.now();
  store::RecordingIndex index(w.db);
  store::SessionRepository sessions(w.db);
  // alice (acme) early in the day, bob (globex) two days later; both typed "ls".
  REQUIRE(sessions
              .started({"ssh-1-1", "alice", "hmi-3", "ssh", "10.0.0.5", std::nullopt, t0, t0 + 1h,
                        std::nullopt, "", 0, 0})
              .ok());
  REQUIRE(sessions.ended("ssh-1-1", t0 + 10min, "vendor disconnected", 10, 20).ok());
  REQUIRE(
      index
          .add({"ssh-1-1", "ssh-1-1.crec", "alice", "hmi-3", t0 + 10min, "00"}, {{1000, "$ ls -l"}})
          .ok());
  REQUIRE(sessions
              .started({"ssh-2-1", "bob", "hmi-3", "ssh", "10.0.0.6", std::nullopt, t0 + 48h,
                        t0 + 49h, std::nullopt, "", 0, 0})
              .ok());
  REQUIRE(sessions.ended("ssh-2-1", t0 + 48h + 5min, "vendor disconnected", 1, 2).ok());
  REQUIRE(index
              .add({"ssh-2-1", "ssh-2-1.crec", "bob", "hmi-3", t0 + 48h + 5min, "00"},
                   {{2000, "$ ls /tmp"}})
              .ok());
  Browser ann = w.signIn("ann");
  auto ids = [&](const std::string& query) {
    auto r = w.call("GET", "/api/v1/recordings" + query, &ann);
    REQUIRE(r.status == 200);
    std::set<std::string> out;
    for (const auto& v : r.body.as_array()) out.insert(std::string(v.at("session_id").as_string()));
    return out;
  };
  using Ids = std::set<std::string>;
  CHECK(ids("?q=ls") == Ids{"ssh-1-1", "ssh-2-1"});
  CHECK(ids("?q=ls&vendor=acme") == Ids{"ssh-1-1"});
  CHECK(ids("?vendor=globex") == Ids{"ssh-2-1"});
  CHECK(ids("?from=2026-11-27T00:00:00Z") == Ids{"ssh-2-1"});
  CHECK(ids("?to=2026-11-27T00:00:00Z") == Ids{"ssh-1-1"});
  CHECK(ids("?from=2026-11-26T08:05:00Z&to=2026-11-26T08:06:00Z") == Ids{"ssh-1-1"});
  CHECK(ids("?user=bob&q=ls") == Ids{"ssh-2-1"});
  CHECK(ids("?asset=plc-17").empty());
  CHECK(w.call("GET", "/api/v1/recordings?from=monday", &ann).status == 400);
  auto first = w.call("GET", "/api/v1/recordings?q=ls%20-l", &ann);
  REQUIRE(first.body.as_array().size() == 1);
  CHECK(first.body.at(0).at("match").as_string() == "$ ls -l");
  CHECK(first.body.at(0).at("bytes_to_vendor").as_int64() == 20);
  CHECK(first.body.at(0).at("text_indexed").as_bool());
  // A recording whose text index was cut short says so (the page shows a badge).
  REQUIRE(index.startTextIndex("ssh-2-1").ok());
  auto listed = w.call("GET", "/api/v1/recordings?user=bob", &ann);
  REQUIRE(listed.body.as_array().size() == 1);
  CHECK_FALSE(listed.body.at(0).at("text_indexed").as_bool());
}

TEST_CASE("query parameters are percent-decoded, with '+' as a space as browsers send it") {
  ApiWorld w;
  store::RecordingIndex index(w.db);
  REQUIRE(index
              .add({"ssh-3-1", "ssh-3-1.crec", "alice", "hmi-3", w.clock.now(), "00"},
                   {{1000, "$ rm -rf /opt/old"}})
              .ok());
  Browser ann = w.signIn("ann");
  for (const char* q : {"?q=rm%20-rf", "?q=rm+-rf", "?q=%72m+-rf"}) {
    INFO(q);
    auto r = w.call("GET", std::string("/api/v1/recordings") + q, &ann);
    REQUIRE(r.status == 200);
    CHECK(r.body.as_array().size() == 1);
  }
}
