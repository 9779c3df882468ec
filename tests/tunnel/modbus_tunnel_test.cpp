// The Modbus inspector behind the tunnel seam: protocol events for the recording, held writes
// posted to the hold desk and decided there, the asset's request budget, and the drain.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <map>

#include "conduit/tunnel/modbus_tunnel.hpp"
#include "tunnel/modbus_frames.hpp"

using namespace conduit;
using namespace conduit::tunnel;
using namespace conduit::tunnel::testing;
using namespace std::chrono_literals;

namespace {

using TimePoint = TunnelInspector::TimePoint;

TimePoint when(int s) {
  return TimePoint{at(s).time_since_epoch()};
}

/// A hold desk the test controls (the broker's is session::HoldBoard, tested on its own).
struct TestDesk final : HoldDesk {
  std::map<std::uint64_t, std::string> posted;
  std::map<std::uint64_t, HoldDecision> decisions;
  std::map<std::uint64_t, std::string> withdrawn;
  HoldContext lastContext;
  bool refuse = false;
  std::uint64_t next = 100;

  core::Result<std::uint64_t> post(const HoldContext& context, std::string details) override {
    if (refuse) return core::fail(core::ErrorCode::unavailable, "audit log unavailable");
    lastContext = context;
    posted[next] = std::move(details);
    return next++;
  }
  std::optional<HoldDecision> decision(std::uint64_t id) override {
    const auto it = decisions.find(id);
    if (it == decisions.end()) return std::nullopt;
    return it->second;
  }
  void withdraw(std::uint64_t id, std::string_view outcome) override {
    withdrawn[id] = std::string(outcome);
  }
};

Bytes bytesOf(const std::vector<unsigned char>& v) {
  return Bytes(v.begin(), v.end());
}

ModbusTunnelSetup approving(TestDesk& desk) {
  ModbusTunnelSetup s;
  s.options = writable(core::WriteMode::approve);
  s.desk = &desk;
  s.context = HoldContext{"gw-1-1", "alice", "plc-17", "modbus"};
  return s;
}

}  // namespace

TEST_CASE("every request and response becomes a modbus protocol event with its decision") {
  ModbusTunnelInspector insp(ModbusTunnelSetup{});  // read-only by default
  const Bytes read = frame(1, 1, readPdu(3, 0, 2));
  auto v = insp.onClientBytes(read, when(0));
  CHECK(bytesOf(v.toTarget) == read);
  CHECK(v.toClient.empty());
  REQUIRE(v.events.size() == 1);
  CHECK(v.events[0].protocol == "modbus");
  CHECK(v.events[0].decision == "allow");
  const auto json = boost::json::parse(v.events[0].summary).as_object();
  CHECK(json.at("function").as_int64() == 3);
  CHECK(json.at("address").as_int64() == 0);
  CHECK(json.at("count").as_int64() == 2);

  const Bytes response = frame(1, 1, {3, 4, 0x03, 0xe8, 0x03, 0xe9});
  v = insp.onServerBytes(response, when(0));
  CHECK(bytesOf(v.toClient) == response);
  REQUIRE(v.events.size() == 1);
  CHECK(v.events[0].decision == "forward");
  CHECK_THAT(v.events[0].summary, Catch::Contains("[1000,1001]"));

  // A write on the read-only grant: answered by the broker, never sent to the PLC.
  v = insp.onClientBytes(frame(2, 1, writeRegisterPdu(5, 42)), when(1));
  CHECK(v.toTarget.empty());
  CHECK(bytesOf(v.toClient) == exception(2, 1, 6, 0x01));
  REQUIRE(v.events.size() == 1);
  CHECK(v.events[0].decision == "deny");
}

TEST_CASE("a held write is posted to the desk and reaches the PLC once an engineer approves") {
  TestDesk desk;
  ModbusTunnelInspector insp(approving(desk));
  const Bytes write = frame(7, 1, writeRegistersPdu(100, {11, 12}));
  auto v = insp.onClientBytes(write, when(0));
  CHECK(v.toTarget.empty());
  CHECK(v.toClient.empty());
  REQUIRE(v.events.size() == 1);
  CHECK(v.events[0].decision == "hold");
  REQUIRE(desk.posted.size() == 1);
  const auto held = boost::json::parse(desk.posted.begin()->second).as_object();
  CHECK(held.at("function").as_int64() == 16);
  CHECK(held.at("address").as_int64() == 100);
  CHECK(boost::json::serialize(held.at("values")) == "[11,12]");
  CHECK(desk.lastContext.asset == "plc-17");
  CHECK(desk.lastContext.user == "alice");

  // No decision yet: a tick forwards nothing.
  v = insp.onTick(when(1));
  CHECK(v.toTarget.empty());
  desk.decisions[100] = HoldDecision{true, "erin"};
  v = insp.onTick(when(2));
  CHECK(bytesOf(v.toTarget) == write);  // the exact bytes the vendor's tool sent
  REQUIRE(v.events.size() == 1);
  CHECK(v.events[0].decision == "approved");
  CHECK_THAT(v.events[0].summary, Catch::Contains("approved by erin"));
  CHECK(desk.withdrawn.at(100) == "approved");
  // The PLC's answer goes back to the vendor.
  const Bytes answer = frame(7, 1, {16, 0, 100, 0, 2});
  v = insp.onServerBytes(answer, when(2));
  CHECK(bytesOf(v.toClient) == answer);
}

TEST_CASE("a rejected held write is answered with exception 01 and never reaches the PLC") {
  TestDesk desk;
  ModbusTunnelInspector insp(approving(desk));
  (void)insp.onClientBytes(frame(3, 1, writeRegisterPdu(9, 1)), when(0));
  desk.decisions[100] = HoldDecision{false, "erin"};
  auto v = insp.onTick(when(1));
  CHECK(v.toTarget.empty());
  CHECK(bytesOf(v.toClient) == exception(3, 1, 6, 0x01));
  REQUIRE(v.events.size() == 1);
  CHECK(v.events[0].decision == "rejected");
  CHECK(desk.withdrawn.at(100) == "rejected");
}

TEST_CASE("a held write nobody can see is refused at once (fail closed)") {
  SECTION("the desk refuses the post") {
    TestDesk desk;
    desk.refuse = true;
    ModbusTunnelInspector insp(approving(desk));
    auto v = insp.onClientBytes(frame(4, 1, writeRegisterPdu(9, 1)), when(0));
    CHECK(v.toTarget.empty());
    CHECK(bytesOf(v.toClient) == exception(4, 1, 6, 0x01));
    REQUIRE(v.events.size() == 2);
    CHECK(v.events[0].decision == "hold");
    CHECK(v.events[1].decision == "rejected");
    CHECK_THAT(v.events[1].summary, Catch::Contains("audit log unavailable"));
  }
  SECTION("there is no desk") {
    ModbusTunnelSetup s;
    s.options = writable(core::WriteMode::approve);
    ModbusTunnelInspector insp(std::move(s));
    auto v = insp.onClientBytes(frame(4, 1, writeRegisterPdu(9, 1)), when(0));
    CHECK(v.toTarget.empty());
    CHECK(bytesOf(v.toClient) == exception(4, 1, 6, 0x01));
  }
}

TEST_CASE(
    "an undecided hold expires with exception 0B and leaves the desk, and a closed connection "
    "withdraws what it still holds") {
  TestDesk desk;
  {
    ModbusTunnelSetup s = approving(desk);
    s.limits.holdTimeout = 10s;
    ModbusTunnelInspector insp(std::move(s));
    (void)insp.onClientBytes(frame(5, 1, writeRegisterPdu(9, 1)), when(0));
    (void)insp.onClientBytes(frame(6, 1, writeRegisterPdu(9, 2)), when(5));
    auto v = insp.onTick(when(11));
    CHECK(bytesOf(v.toClient) == exception(5, 1, 6, 0x0b));
    CHECK(desk.withdrawn.at(100) == "expired");
    CHECK_FALSE(desk.withdrawn.contains(101));
  }
  CHECK(desk.withdrawn.at(101) == "cancelled");
}

TEST_CASE("the asset's request budget is shared by its connections, over it exception 06") {
  auto budget = std::make_shared<RequestBudget>(2.0);
  ModbusTunnelSetup a;
  a.budget = budget;
  ModbusTunnelSetup b;
  b.budget = budget;
  ModbusTunnelInspector first(std::move(a));
  ModbusTunnelInspector second(std::move(b));
  CHECK_FALSE(first.onClientBytes(frame(1, 1, readPdu(3, 0, 1)), when(0)).toTarget.empty());
  CHECK_FALSE(second.onClientBytes(frame(1, 1, readPdu(3, 0, 1)), when(0)).toTarget.empty());
  auto v = first.onClientBytes(frame(2, 1, readPdu(3, 0, 1)), when(0));
  CHECK(v.toTarget.empty());
  CHECK(bytesOf(v.toClient) == exception(2, 1, 3, 0x06));
  REQUIRE(v.events.size() == 1);
  CHECK_THAT(v.events[0].summary, Catch::Contains("at most 2 requests per second"));
  // Half a second later one token is back.
  const TimePoint later = when(0) + 500ms;
  CHECK_FALSE(first.onClientBytes(frame(3, 1, readPdu(3, 0, 1)), later).toTarget.empty());
  CHECK(second.onClientBytes(frame(3, 1, readPdu(3, 0, 1)), later).toTarget.empty());
}

TEST_CASE("draining refuses new writes, lets reads in flight finish, then reports drained") {
  ModbusTunnelSetup s;
  s.options = writable(core::WriteMode::allow);
  ModbusTunnelInspector insp(std::move(s));
  (void)insp.onClientBytes(frame(1, 1, readPdu(3, 0, 1)), when(0));
  auto v = insp.drain(when(1));
  CHECK_FALSE(insp.drained());  // the read is still in flight
  v = insp.onClientBytes(frame(2, 1, writeRegisterPdu(1, 5)), when(1));
  CHECK(v.toTarget.empty());
  CHECK(bytesOf(v.toClient) == exception(2, 1, 6, 0x06));
  v = insp.onServerBytes(frame(1, 1, {3, 2, 0x03, 0xe8}), when(1));
  CHECK_FALSE(v.toClient.empty());
  CHECK(insp.drained());
}
