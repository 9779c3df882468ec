// Writes held for approval in the API (docs/api.md "Held writes"): who sees them, who decides,
// decided once, audited first (an unauditable decision does not happen).
#include "api_world.hpp"
#include "conduit/session/hold_board.hpp"

using namespace conduit;
using test::ApiWorld;
using test::Browser;

namespace {

struct Board {
  bool failing = false;
  std::vector<std::string> steps;
  session::HoldBoard board{[this](const session::HeldWrite&, std::string_view what,
                                  const std::string& by) -> core::Status {
    if (failing) return core::fail(core::ErrorCode::io, "disk full");
    steps.push_back(std::string(what) + " " + by);
    return core::Done{};
  }};
};

std::uint64_t hold(Board& b, const std::string& asset = "hmi-3") {
  auto id = b.board.post({"gw-1-1", "alice", asset, "modbus"},
                         R"({"function":6,"address":5,"count":1,"values":[42]})");
  REQUIRE(id.ok());
  return *id;
}

}  // namespace

TEST_CASE("held writes: listed to the asset's engineers, auditors and the sending vendor only") {
  ApiWorld w;
  Board b;
  w.api->setHoldBoard(&b.board);
  const auto id = hold(b);
  for (const auto& [user, visible] : std::vector<std::pair<std::string, bool>>{
           {"alice", true}, {"bob", false}, {"erin", true}, {"sam", false}, {"ann", true}}) {
    INFO(user);
    Browser br = w.signIn(user);
    auto r = w.call("GET", "/api/v1/holds", &br);
    REQUIRE(r.status == 200);
    const auto& list = r.body.as_array();
    REQUIRE(list.size() == (visible ? 1U : 0U));
    if (!visible) continue;
    const auto& h = list[0].as_object();
    CHECK(h.at("id").as_int64() == static_cast<std::int64_t>(id));
    CHECK(h.at("asset").as_string() == "hmi-3");
    CHECK(h.at("user").as_string() == "alice");
    CHECK(h.at("request").at("values").as_array().at(0).as_int64() == 42);
  }
}

TEST_CASE("held writes: only an engineer of the asset's group decides, once, with CSRF") {
  ApiWorld w;
  Board b;
  w.api->setHoldBoard(&b.board);
  const auto id = hold(b);
  const std::string approve = "/api/v1/holds/" + std::to_string(id) + "/approve";
  Browser alice = w.signIn("alice"), bob = w.signIn("bob"), sam = w.signIn("sam"),
          ann = w.signIn("ann"), erin = w.signIn("erin");
  CHECK(w.call("POST", approve, &alice, "{}").status == 403);  // a vendor, even the sender
  CHECK(w.call("POST", approve, &bob, "{}").status == 403);
  CHECK(w.call("POST", approve, &sam, "{}").status == 404);  // another group's asset
  CHECK(w.call("POST", approve, &ann, "{}").status == 403);
  CHECK(w.call("POST", approve, &erin, "{}", false).status == 403);  // no CSRF token
  CHECK_FALSE(b.board.decision(id).has_value());

  b.failing = true;  // the audit log cannot be written: no decision
  CHECK(w.call("POST", approve, &erin, "{}").status >= 500);
  CHECK_FALSE(b.board.decision(id).has_value());
  b.failing = false;

  auto r = w.call("POST", approve, &erin, "{}");
  CHECK(r.status == 200);
  auto d = b.board.decision(id);
  REQUIRE(d.has_value());
  CHECK(d->approved);
  CHECK(d->by == "erin");
  CHECK(b.steps.back() == "approved erin");
  // Decided once.
  r = w.call("POST", "/api/v1/holds/" + std::to_string(id) + "/deny", &erin, "{}");
  CHECK(r.status == 409);
  // Unknown and malformed ids look the same.
  CHECK(w.call("POST", "/api/v1/holds/999/approve", &erin, "{}").status == 404);
  CHECK(w.call("POST", "/api/v1/holds/..%2f1/approve", &erin, "{}").status == 404);
}

TEST_CASE("held writes: a denial is recorded with the engineer's name") {
  ApiWorld w;
  Board b;
  w.api->setHoldBoard(&b.board);
  const auto id = hold(b);
  Browser erin = w.signIn("erin");
  CHECK(w.call("POST", "/api/v1/holds/" + std::to_string(id) + "/deny", &erin, "{}").status == 200);
  auto d = b.board.decision(id);
  REQUIRE(d.has_value());
  CHECK_FALSE(d->approved);
  CHECK(b.steps.back() == "rejected erin");
}
