// The broker's hold desk: each step audited first (fail closed), decisions once, withdrawal.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "conduit/session/hold_board.hpp"

using namespace conduit;

namespace {

struct Trail {
  std::vector<std::string> steps;  // "what by"
  bool failing = false;
  session::HoldBoard::Auditor auditor() {
    return [this](const session::HeldWrite& w, std::string_view what,
                  const std::string& by) -> core::Status {
      if (failing) return core::fail(core::ErrorCode::io, "disk full");
      steps.push_back(std::string(what) + " " + by + " " + w.context.asset);
      return core::Done{};
    };
  }
};

const tunnel::HoldContext kContext{"gw-1-1", "alice", "plc-17", "modbus"};

}  // namespace

TEST_CASE("a held write is listed until decided, and the decision is audited and kept") {
  Trail trail;
  session::HoldBoard board(trail.auditor());
  auto id = board.post(kContext, R"({"function":6})");
  REQUIRE(id.ok());
  REQUIRE(board.pending().size() == 1);
  CHECK(board.pending()[0].details == R"({"function":6})");
  CHECK_FALSE(board.decision(*id).has_value());

  REQUIRE(board.decide(*id, true, "erin").ok());
  CHECK(board.pending().empty());  // decided: no longer waiting for an engineer
  auto d = board.decision(*id);
  REQUIRE(d.has_value());
  CHECK(d->approved);
  CHECK(d->by == "erin");
  // Decided once: a second engineer cannot flip it.
  auto again = board.decide(*id, false, "sam");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == core::ErrorCode::conflict);
  board.withdraw(*id, "approved");
  CHECK_FALSE(board.find(*id).has_value());
  CHECK(trail.steps == std::vector<std::string>{"held alice plc-17", "approved erin plc-17"});
  CHECK(board.decide(*id, true, "erin").error().code == core::ErrorCode::not_found);
}

TEST_CASE("if the audit event cannot be written, neither the hold nor the decision happens") {
  Trail trail;
  session::HoldBoard board(trail.auditor());
  trail.failing = true;
  CHECK_FALSE(board.post(kContext, "{}").ok());
  CHECK(board.pending().empty());
  trail.failing = false;
  auto id = board.post(kContext, "{}");
  REQUIRE(id.ok());
  trail.failing = true;
  CHECK_FALSE(board.decide(*id, true, "erin").ok());
  CHECK_FALSE(board.decision(*id).has_value());  // still waiting
}

TEST_CASE("a hold that ends undecided is audited with how it ended") {
  Trail trail;
  session::HoldBoard board(trail.auditor());
  auto id = board.post(kContext, "{}");
  REQUIRE(id.ok());
  board.withdraw(*id, "expired");
  CHECK(board.pending().empty());
  CHECK(trail.steps.back() == "expired  plc-17");
}
