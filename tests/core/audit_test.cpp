#include <catch2/catch.hpp>

#include "conduit/core/audit.hpp"

using namespace conduit::core;

namespace {
std::vector<AuditEvent> chainOf(int n) {
  std::vector<AuditEvent> events;
  std::string prev = genesisHash();
  for (int i = 0; i < n; ++i) {
    AuditDraft d{"erin",
                 "127.0.0.1",
                 "access",
                 "request.approved",
                 "request:" + std::to_string(i),
                 AuditOutcome::success,
                 R"({"n":1})"};
    events.push_back(chainEvent(d, *parseTime("2026-11-26T08:00:00Z") + std::chrono::seconds(i),
                                static_cast<std::int64_t>(i), prev));
    prev = events.back().hash;
  }
  return events;
}
}  // namespace

TEST_CASE("an intact chain verifies") {
  auto events = chainOf(5);
  CHECK_FALSE(verifyChain(events).has_value());
  CHECK(events[0].prevHash == genesisHash());
  CHECK(events[1].prevHash == events[0].hash);
  CHECK(events[0].hash.size() == 64);
}

TEST_CASE("tampering is detected and the first broken event named") {
  auto events = chainOf(5);
  SECTION("edited field") {
    events[2].draft.outcome = AuditOutcome::failure;
    auto b = verifyChain(events);
    REQUIRE(b.has_value());
    CHECK(b->seq == 3);
    CHECK_THAT(b->why, Catch::Contains("altered"));
  }
  SECTION("edited and re-hashed event breaks the next link") {
    events[1].draft.actor = "mallory";
    events[1].hash = auditHash(events[1]);
    auto b = verifyChain(events);
    REQUIRE(b.has_value());
    CHECK(b->seq == 3);
    CHECK_THAT(b->why, Catch::Contains("prev_hash"));
  }
  SECTION("deleted event") {
    events.erase(events.begin() + 2);
    auto b = verifyChain(events);
    REQUIRE(b.has_value());
    CHECK(b->seq == 3);
    CHECK_THAT(b->why, Catch::Contains("missing"));
  }
  SECTION("deleted and renumbered") {
    events.erase(events.begin() + 2);
    for (std::size_t i = 0; i < events.size(); ++i)
      events[i].seq = static_cast<std::int64_t>(i) + 1;
    auto b = verifyChain(events);
    REQUIRE(b.has_value());
    CHECK(b->seq == 3);
  }
  SECTION("reordered events") {
    std::swap(events[1], events[3]);
    auto b = verifyChain(events);
    REQUIRE(b.has_value());
    CHECK(b->seq == 2);
  }
}

TEST_CASE("the canonical form separates fields unambiguously") {
  AuditEvent a;
  a.draft.actor = "ab";
  a.draft.source = "c";
  AuditEvent b;
  b.draft.actor = "a";
  b.draft.source = "bc";
  CHECK(canonicalAuditEvent(a) != canonicalAuditEvent(b));
}
