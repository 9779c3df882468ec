// ModbusInspector byte for byte: what reaches the PLC, what the client gets back, and the events.
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "conduit/tunnel/modbus_inspector.hpp"
#include "tunnel/modbus_frames.hpp"

using namespace conduit;
using namespace conduit::tunnel;
using namespace conduit::tunnel::testing;
using namespace std::chrono_literals;

namespace {

std::vector<ModbusDecision> decisions(const InspectorOutput& out) {
  std::vector<ModbusDecision> d;
  for (const auto& e : out.events) d.push_back(e.decision);
  return d;
}

// A grant like the shipped read-only preset: reads of holding and input registers, unit 1,
// registers 0-499 and 1000-1099.
core::ModbusOptions presetReadOnly() {
  core::ModbusOptions o;
  o.functionCodes = {3, 4};
  o.unitIds = {1};
  o.ranges = {{0, 499}, {1000, 1099}};
  return o;
}

core::ModbusOptions approveWrites() {
  auto o = writable(core::WriteMode::approve);
  o.unitIds = {1};
  return o;
}

}  // namespace

TEST_CASE("an allowed read goes to the PLC unchanged and its response back to the client") {
  ModbusInspector insp(presetReadOnly());
  const Bytes request = frame(0x0a0b, 1, readPdu(3, 16, 2));
  auto out = insp.onClient(request, at(0));
  CHECK(out.toServer == request);
  CHECK(out.toClient.empty());
  CHECK_FALSE(out.close);
  REQUIRE(out.events.size() == 1);
  const auto& e = out.events[0];
  CHECK(e.message == ModbusEvent::Message::request);
  CHECK(e.decision == ModbusDecision::allow);
  CHECK(e.transaction == 0x0a0b);
  CHECK(e.unit == 1);
  CHECK(e.function == 3);
  CHECK(e.read == AddressBlock{16, 2});
  CHECK(insp.inFlight() == 1);

  const Bytes response = frame(0x0a0b, 1, {3, 4, 0x12, 0x34, 0xab, 0xcd});
  out = insp.onServer(response, at(0));
  CHECK(out.toClient == response);
  CHECK(out.toServer.empty());
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].message == ModbusEvent::Message::response);
  CHECK(out.events[0].decision == ModbusDecision::forward);
  CHECK(out.events[0].read == AddressBlock{16, 2});
  CHECK(out.events[0].values == std::vector<std::uint16_t>{0x1234, 0xabcd});
  CHECK(insp.inFlight() == 0);
}

TEST_CASE("denied requests are answered with exact exception frames and never reach the PLC") {
  ModbusInspector insp(presetReadOnly());
  struct Case {
    Bytes request;
    Bytes answer;
  };
  const std::vector<Case> cases = {
      // write single register on a read-only grant: 01 illegal function
      {frame(7, 1, writeRegisterPdu(10, 99)), {0, 7, 0, 0, 0, 3, 1, 0x86, 0x01}},
      // a read not in the grant's function codes: 01
      {frame(8, 1, readPdu(1, 10, 1)), {0, 8, 0, 0, 0, 3, 1, 0x81, 0x01}},
      // diagnostics: 01
      {frame(9, 1, {8, 0, 1, 0, 0}), {0, 9, 0, 0, 0, 3, 1, 0x88, 0x01}},
      // a vendor programming code (Schneider UMAS): 01
      {frame(10, 1, {0x5a, 0, 0x02}), {0, 10, 0, 0, 0, 3, 1, 0xda, 0x01}},
      // register 500, one past the first range: 02 illegal data address
      {frame(11, 1, readPdu(3, 500, 1)), {0, 11, 0, 0, 0, 3, 1, 0x83, 0x02}},
      // unit 2: 02
      {frame(12, 2, readPdu(3, 0, 1)), {0, 12, 0, 0, 0, 3, 2, 0x83, 0x02}},
      // quantity 126: 03 illegal data value
      {frame(0x1234, 1, readPdu(4, 0, 126)), {0x12, 0x34, 0, 0, 0, 3, 1, 0x84, 0x03}},
  };
  for (const auto& c : cases) {
    const auto out = insp.onClient(c.request, at(0));
    INFO("request function " << static_cast<int>(c.request[7]));
    CHECK(out.toServer.empty());
    CHECK(out.toClient == c.answer);
    REQUIRE(out.events.size() == 1);
    CHECK(out.events[0].decision == ModbusDecision::deny);
    CHECK(out.events[0].exception == c.answer[8]);
    CHECK_FALSE(out.events[0].reason.empty());
  }
  CHECK(insp.inFlight() == 0);
}

TEST_CASE("many frames in one read: allowed ones forwarded, denied ones answered, in order") {
  ModbusInspector insp(presetReadOnly());
  const Bytes r1 = frame(1, 1, readPdu(3, 0, 10));
  const Bytes w2 = frame(2, 1, writeRegisterPdu(0, 1));
  const Bytes r3 = frame(3, 1, readPdu(4, 1000, 100));
  const Bytes r4 = frame(4, 1, readPdu(3, 1100, 1));
  const Bytes all = join({r1, w2, r3, r4});
  SECTION("in one read") {
    const auto out = insp.onClient(all, at(0));
    CHECK(out.toServer == join({r1, r3}));
    CHECK(out.toClient == join({exception(2, 1, 6, 1), exception(4, 1, 3, 2)}));
    CHECK(decisions(out) == std::vector<ModbusDecision>{ModbusDecision::allow, ModbusDecision::deny,
                                                        ModbusDecision::allow,
                                                        ModbusDecision::deny});
  }
  SECTION("split across reads of 5 bytes") {
    Bytes toServer;
    Bytes toClient;
    for (std::size_t i = 0; i < all.size(); i += 5) {
      const auto out =
          insp.onClient(std::span(all).subspan(i, std::min<std::size_t>(5, all.size() - i)), at(0));
      CHECK_FALSE(out.close);
      toServer.insert(toServer.end(), out.toServer.begin(), out.toServer.end());
      toClient.insert(toClient.end(), out.toClient.begin(), out.toClient.end());
    }
    CHECK(toServer == join({r1, r3}));
    CHECK(toClient == join({exception(2, 1, 6, 1), exception(4, 1, 3, 2)}));
  }
  SECTION("responses split and coalesced the same way") {
    (void)insp.onClient(all, at(0));
    const Bytes a1 =
        frame(1, 1, {3, 20, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0, 9, 0, 10});
    Bytes a3 = frame(3, 1, {4, 200});
    a3.resize(a3.size() + 200, 0x55);
    a3[4] = 0;
    a3[5] = 203;  // length: unit + function + byte count + 200
    const Bytes both = join({a3, a1});
    auto out = insp.onServer(std::span(both).first(100), at(0));
    CHECK(out.toClient.empty());
    out = insp.onServer(std::span(both).subspan(100), at(0));
    CHECK(out.toClient == both);
    CHECK(decisions(out) ==
          std::vector<ModbusDecision>{ModbusDecision::forward, ModbusDecision::forward});
    CHECK(out.events[0].values.size() == 100);
    CHECK(out.events[1].values.size() == 10);
    CHECK(out.events[1].values[9] == 10);
    CHECK(insp.inFlight() == 0);
  }
}

TEST_CASE("framing errors close the connection with the reason") {
  ModbusInspector insp(presetReadOnly());
  SECTION("from the client") {
    const Bytes good = frame(1, 1, readPdu(3, 0, 1));
    auto out = insp.onClient(join({good, {0, 2, 0, 1, 0, 6}}), at(0));
    CHECK(out.toServer == good);  // complete, decided requests before the garbage still go
    REQUIRE(out.close);
    CHECK(*out.close == "the client sent not Modbus/TCP: protocol id 1, expected 0");
    out = insp.onClient(good, at(0));  // and nothing afterwards
    CHECK(out.toServer.empty());
    CHECK(out.close);
  }
  SECTION("bad lengths") {
    auto out = insp.onClient(Bytes{0, 1, 0, 0, 0x01, 0x00}, at(0));
    REQUIRE(out.close);
    CHECK(*out.close == "the client sent Modbus/TCP length 256 outside 2..254");
  }
  SECTION("from the PLC") {
    (void)insp.onClient(frame(1, 1, readPdu(3, 0, 1)), at(0));
    const auto out = insp.onServer(Bytes{'H', 'T', 'T', 'P', '/', '1'}, at(0));
    REQUIRE(out.close);
    CHECK(*out.close == "the PLC sent not Modbus/TCP: protocol id 21584, expected 0");
    CHECK(out.toClient.empty());
  }
}

TEST_CASE("responses are matched to requests by transaction id") {
  ModbusInspector insp(presetReadOnly());
  (void)insp.onClient(join({frame(5, 1, readPdu(3, 0, 1)), frame(6, 1, readPdu(4, 0, 1))}), at(0));
  REQUIRE(insp.inFlight() == 2);

  SECTION("out of order") {
    const Bytes a6 = frame(6, 1, {4, 2, 0, 66});
    const Bytes a5 = frame(5, 1, {3, 2, 0, 55});
    auto out = insp.onServer(join({a6, a5}), at(0));
    CHECK(out.toClient == join({a6, a5}));
    REQUIRE(out.events.size() == 2);
    CHECK(out.events[0].values == std::vector<std::uint16_t>{66});
    CHECK(out.events[1].values == std::vector<std::uint16_t>{55});
    CHECK(insp.inFlight() == 0);
  }
  SECTION("an unknown transaction is dropped with an event") {
    auto out = insp.onServer(frame(99, 1, {3, 2, 0, 1}), at(0));
    CHECK(out.toClient.empty());
    REQUIRE(out.events.size() == 1);
    CHECK(out.events[0].decision == ModbusDecision::drop);
    CHECK(out.events[0].reason == "no request in flight has transaction 99");
    CHECK(insp.inFlight() == 2);
  }
  SECTION("a response with another function is dropped; the request stays in flight") {
    auto out = insp.onServer(frame(5, 1, {6, 0, 0, 0, 1}), at(0));
    CHECK(out.toClient.empty());
    REQUIRE(out.events.size() == 1);
    CHECK(out.events[0].decision == ModbusDecision::drop);
    CHECK(out.events[0].reason ==
          "function 6 (write single register) does not answer function 3 (read holding "
          "registers)");
    CHECK(insp.inFlight() == 2);
  }
  SECTION("the PLC's exception responses are forwarded and recorded") {
    const Bytes ex = exception(5, 1, 3, 2);
    auto out = insp.onServer(ex, at(0));
    CHECK(out.toClient == ex);
    REQUIRE(out.events.size() == 1);
    CHECK(out.events[0].decision == ModbusDecision::forward);
    CHECK(out.events[0].function == 0x83);
    CHECK(out.events[0].exception == 2);
  }
  SECTION("a second response to the same transaction is dropped") {
    const Bytes a5 = frame(5, 1, {3, 2, 0, 55});
    CHECK(insp.onServer(a5, at(0)).toClient == a5);
    const auto out = insp.onServer(a5, at(0));
    CHECK(out.toClient.empty());
    CHECK(decisions(out) == std::vector<ModbusDecision>{ModbusDecision::drop});
  }
}

TEST_CASE("a PLC that does not answer: the client gets 0B, a late answer is dropped") {
  ModbusLimits limits;
  limits.responseTimeout = 30s;
  ModbusInspector insp(presetReadOnly(), limits);
  (void)insp.onClient(frame(5, 1, readPdu(3, 0, 1)), at(0));
  CHECK(insp.tick(at(29)).toClient.empty());
  auto out = insp.tick(at(30));
  CHECK(out.toClient == exception(5, 1, 3, 0x0b));
  CHECK(decisions(out) == std::vector<ModbusDecision>{ModbusDecision::expired});
  CHECK(insp.inFlight() == 0);
  out = insp.onServer(frame(5, 1, {3, 2, 0, 55}), at(31));
  CHECK(out.toClient.empty());
  CHECK(decisions(out) == std::vector<ModbusDecision>{ModbusDecision::drop});
}

TEST_CASE("a flooding client gets 06 beyond the requests in flight allowed") {
  ModbusLimits limits;
  limits.maxInFlight = 3;
  ModbusInspector insp(presetReadOnly(), limits);
  Bytes flood;
  for (std::uint16_t t = 1; t <= 5; ++t) {
    const auto f = frame(t, 1, readPdu(3, 0, 1));
    flood.insert(flood.end(), f.begin(), f.end());
  }
  const auto out = insp.onClient(flood, at(0));
  CHECK(out.toServer == Bytes(flood.begin(), flood.begin() + 3 * 12));  // 12 bytes per frame
  CHECK(out.toClient == join({exception(4, 1, 3, 6), exception(5, 1, 3, 6)}));
  CHECK(insp.inFlight() == 3);
}

TEST_CASE("held writes: approve forwards the original bytes, refuse and timeout answer") {
  ModbusInspector insp(approveWrites());
  const Bytes write = frame(0x0102, 1, writeRegistersPdu(40, {0x1111, 0x2222, 0x3333}));
  auto out = insp.onClient(write, at(0));
  CHECK(out.toServer.empty());
  CHECK(out.toClient.empty());
  REQUIRE(out.held.size() == 1);
  const HeldRequest h = out.held[0];
  CHECK(h.transaction == 0x0102);
  CHECK(h.unit == 1);
  CHECK(h.request.function == 16);
  CHECK(h.request.write == AddressBlock{40, 3});
  CHECK(h.request.values == std::vector<std::uint16_t>{0x1111, 0x2222, 0x3333});
  CHECK(h.heldAt == at(0));
  CHECK(h.deadline == at(120));
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].decision == ModbusDecision::hold);
  CHECK(out.events[0].hold == h.id);
  CHECK(insp.held() == 1);

  SECTION("approved: exactly the original bytes reach the PLC; the response comes back") {
    auto r = insp.resolveHold(h.id, true, at(40), "e.fischer");
    REQUIRE(r.ok());
    CHECK(r->toServer == write);
    CHECK(r->toClient.empty());
    REQUIRE(r->events.size() == 1);
    CHECK(r->events[0].decision == ModbusDecision::approved);
    CHECK(r->events[0].reason == "approved by e.fischer");
    CHECK(insp.held() == 0);
    const Bytes answer = frame(0x0102, 1, {16, 0, 40, 0, 3});
    out = insp.onServer(answer, at(41));
    CHECK(out.toClient == answer);
    REQUIRE(out.events.size() == 1);
    CHECK(out.events[0].hold == h.id);
    // Deciding twice is not possible.
    CHECK(insp.resolveHold(h.id, true, at(42)).error().code == core::ErrorCode::not_found);
  }
  SECTION("refused: exception 01, nothing reaches the PLC") {
    auto r = insp.resolveHold(h.id, false, at(40), "e.fischer");
    REQUIRE(r.ok());
    CHECK(r->toServer.empty());
    CHECK(r->toClient == exception(0x0102, 1, 16, 0x01));
    REQUIRE(r->events.size() == 1);
    CHECK(r->events[0].decision == ModbusDecision::rejected);
    CHECK(r->events[0].reason == "refused by e.fischer");
  }
  SECTION("nobody decides: exception 0B at the deadline") {
    CHECK(insp.tick(at(119)).toClient.empty());
    out = insp.tick(at(120));
    CHECK(out.toServer.empty());
    CHECK(out.toClient == exception(0x0102, 1, 16, 0x0b));
    CHECK(decisions(out) == std::vector<ModbusDecision>{ModbusDecision::expired});
    CHECK(out.events[0].reason == "no engineer decided within 120 s");
    CHECK(insp.resolveHold(h.id, true, at(121)).error().code == core::ErrorCode::not_found);
  }
  SECTION("the deadline is also checked when bytes arrive") {
    out = insp.onClient(frame(9, 1, readPdu(3, 0, 1)), at(500));
    CHECK(out.toClient == exception(0x0102, 1, 16, 0x0b));
    CHECK(out.toServer == frame(9, 1, readPdu(3, 0, 1)));
  }
  SECTION("reads are not held behind a held write") {
    const Bytes read = frame(9, 1, readPdu(3, 40, 3));
    out = insp.onClient(read, at(1));
    CHECK(out.toServer == read);
  }
}

TEST_CASE("held writes reach the PLC in the order they were sent") {
  ModbusInspector insp(approveWrites());
  const Bytes w1 = frame(1, 1, writeRegisterPdu(1, 1));
  const Bytes w2 = frame(2, 1, writeRegisterPdu(2, 2));
  const Bytes w3 = frame(3, 1, writeRegisterPdu(3, 3));
  auto out = insp.onClient(join({w1, w2, w3}), at(0));
  REQUIRE(out.held.size() == 3);
  const auto id1 = out.held[0].id;
  const auto id2 = out.held[1].id;
  const auto id3 = out.held[2].id;
  auto r = insp.resolveHold(id2, true, at(1));
  REQUIRE(r.ok());
  CHECK(r->toServer.empty());  // waits for the first
  r = insp.resolveHold(id1, true, at(2));
  REQUIRE(r.ok());
  CHECK(r->toServer == join({w1, w2}));
  r = insp.resolveHold(id3, false, at(3));
  CHECK(r->toClient == exception(3, 1, 6, 1));
  CHECK(insp.inFlight() == 2);
}

TEST_CASE("an approved write queued behind one that expires goes when that one expires") {
  ModbusInspector insp(approveWrites());
  auto out = insp.onClient(frame(1, 1, writeRegisterPdu(1, 1)), at(0));
  out = insp.onClient(frame(2, 1, writeRegisterPdu(2, 2)), at(10));
  REQUIRE(insp.resolveHold(out.held[0].id, true, at(11)).ok());
  out = insp.tick(at(120));
  CHECK(out.toClient == exception(1, 1, 6, 0x0b));
  CHECK(out.toServer == frame(2, 1, writeRegisterPdu(2, 2)));
}

TEST_CASE(
    "an approved write waits for a free slot: approvals never exceed the requests in flight") {
  // Found by fuzz_modbus: approvals were forwarded even with maxInFlight requests already
  // waiting for the PLC, so approved writes could pile up beyond the limit.
  ModbusLimits limits;
  limits.maxInFlight = 2;
  ModbusInspector insp(approveWrites(), limits);
  const Bytes r1 = frame(1, 1, readPdu(3, 0, 1));
  const Bytes r2 = frame(2, 1, readPdu(3, 1, 1));
  const Bytes w = frame(3, 1, writeRegisterPdu(5, 5));
  auto out = insp.onClient(join({r1, r2, w}), at(0));
  CHECK(out.toServer == join({r1, r2}));
  REQUIRE(out.held.size() == 1);
  auto r = insp.resolveHold(out.held[0].id, true, at(1), "e.fischer");
  REQUIRE(r.ok());
  CHECK(r->toServer.empty());  // both slots are taken
  CHECK(insp.inFlight() == 2);
  CHECK(insp.held() == 1);
  SECTION("a response frees a slot and the approved write goes with it") {
    out = insp.onServer(frame(1, 1, {3, 2, 0, 7}), at(2));
    CHECK(out.toClient == frame(1, 1, {3, 2, 0, 7}));
    CHECK(out.toServer == w);
    CHECK(decisions(out) ==
          std::vector<ModbusDecision>{ModbusDecision::forward, ModbusDecision::approved});
    CHECK(insp.inFlight() == 2);
    CHECK(insp.held() == 0);
  }
  SECTION("a request that times out frees a slot too") {
    out = insp.tick(at(30));
    CHECK(out.toClient == join({exception(1, 1, 3, 0x0b), exception(2, 1, 3, 0x0b)}));
    CHECK(out.toServer == w);
    CHECK(insp.inFlight() == 1);
  }
  SECTION("draining keeps the approved write and sends it when a slot frees") {
    out = insp.drainForEnd(at(2));
    CHECK(out.toServer.empty());
    CHECK_FALSE(out.drained);
    out = insp.onServer(frame(2, 1, {3, 2, 0, 8}), at(3));
    CHECK(out.toServer == w);
    CHECK_FALSE(out.drained);
  }
}

TEST_CASE("at most 8 writes are held, more are answered 06") {
  ModbusInspector insp(approveWrites());
  for (std::uint16_t t = 1; t <= 8; ++t) {
    const auto out = insp.onClient(frame(t, 1, writeRegisterPdu(t, t)), at(0));
    CHECK(out.held.size() == 1);
  }
  const auto out = insp.onClient(frame(9, 1, writeRegisterPdu(9, 9)), at(0));
  CHECK(out.held.empty());
  CHECK(out.toClient == exception(9, 1, 6, 0x06));
  CHECK(out.events[0].reason == "8 writes already wait for approval");
}

TEST_CASE("draining at window end: new writes refused, in-flight requests complete") {
  auto o = writable();
  ModbusInspector insp(o);
  const Bytes w1 = frame(1, 1, writeRegisterPdu(1, 1));
  const Bytes r2 = frame(2, 1, readPdu(3, 0, 1));
  (void)insp.onClient(join({w1, r2}), at(0));
  REQUIRE(insp.inFlight() == 2);

  auto out = insp.drainForEnd(at(1));
  CHECK_FALSE(out.drained);
  CHECK(insp.draining());

  // A new write is refused with 06; a read still goes.
  const Bytes w3 = frame(3, 1, writeRegisterPdu(3, 3));
  const Bytes r4 = frame(4, 1, readPdu(3, 0, 1));
  out = insp.onClient(join({w3, r4}), at(2));
  CHECK(out.toClient == exception(3, 1, 6, 0x06));
  CHECK(out.events[0].reason == "the session is ending: no new writes");
  CHECK(out.toServer == r4);
  CHECK_FALSE(out.drained);

  const Bytes answers = join({frame(1, 1, {6, 0, 1, 0, 1}), frame(2, 1, {3, 2, 0, 0})});
  out = insp.onServer(answers, at(3));
  CHECK(out.toClient == answers);
  CHECK_FALSE(out.drained);  // 4 is still in flight
  out = insp.onServer(frame(4, 1, {3, 2, 0, 0}), at(3));
  CHECK(out.drained);
  CHECK(insp.drained());
}

TEST_CASE("draining cancels undecided holds with 06 and sends the approved ones") {
  ModbusInspector insp(approveWrites());
  auto out = insp.onClient(
      join({frame(1, 1, writeRegisterPdu(1, 1)), frame(2, 1, writeRegisterPdu(2, 2))}), at(0));
  REQUIRE(insp.resolveHold(out.held[1].id, true, at(1)).ok());
  out = insp.drainForEnd(at(2));
  CHECK(out.toClient == exception(1, 1, 6, 0x06));
  CHECK(out.toServer == frame(2, 1, writeRegisterPdu(2, 2)));
  CHECK(decisions(out) ==
        std::vector<ModbusDecision>{ModbusDecision::cancelled, ModbusDecision::approved});
  CHECK_FALSE(out.drained);
  out = insp.onServer(frame(2, 1, {6, 0, 2, 0, 2}), at(3));
  CHECK(out.drained);
}

TEST_CASE("draining with nothing in flight is drained at once") {
  ModbusInspector insp(presetReadOnly());
  CHECK(insp.drainForEnd(at(0)).drained);
}

TEST_CASE("events encode to JSON for the recording") {
  ModbusInspector insp(approveWrites());
  auto out = insp.onClient(frame(7, 1, writeRegistersPdu(100, {1, 2})), at(0));
  REQUIRE(out.events.size() == 1);
  CHECK(toJson(out.events[0]) ==
        R"({"protocol":"modbus","time_us":1700000000000000,"message":"request","transaction":7,)"
        R"("unit":1,"function":16,"function_name":"write multiple registers","class":"write",)"
        R"("address":100,"count":2,"values":[1,2],"decision":"hold","hold":1,)"
        R"("reason":"writes need an engineer's approval"})");
  REQUIRE(out.held.size() == 1);
  CHECK(toJson(out.held[0]) ==
        R"({"hold":1,"transaction":7,"unit":1,"function":16,"function_name":"write multiple )"
        R"(registers","class":"write","address":100,"count":2,"values":[1,2],)"
        R"("held_at_us":1700000000000000,"deadline_us":1700000120000000})");

  out = insp.onClient(frame(8, 2, readPdu(3, 0, 1)), at(1));
  CHECK(toJson(out.events[0]) ==
        R"({"protocol":"modbus","time_us":1700000001000000,"message":"request","transaction":8,)"
        R"("unit":2,"function":3,"function_name":"read holding registers","class":"read",)"
        R"("address":0,"count":1,"decision":"deny","exception":2,)"
        R"("reason":"unit 2 is not among the grant's unit ids"})");

  out = insp.onClient(frame(9, 1, {23, 0, 1, 0, 2, 0, 3, 0, 1, 2, 0, 5}), at(2));
  const auto json = toJson(out.events[0]);
  CHECK_THAT(json, Catch::Contains(R"("address":3,"count":1,"read_address":1,"read_count":2)"));
}

TEST_CASE("event JSON escapes text and parses back with every field") {
  ModbusEvent e;
  e.time = at(3);
  e.message = ModbusEvent::Message::response;
  e.transaction = 65535;
  e.unit = 255;
  e.function = 0x83;
  e.read = AddressBlock{65535, 125};
  e.values = {0, 65535};
  e.valuesTruncated = true;
  e.exception = 4;
  e.hold = 18446744073709551615ULL;
  e.reason = "a \"quoted\" reason\\ with\na newline and \x01";
  const auto parsed = boost::json::parse(toJson(e)).as_object();
  CHECK(parsed.at("reason").as_string() == e.reason);
  CHECK(parsed.at("message").as_string() == "response");
  CHECK(parsed.at("function").to_number<int>() == 0x83);
  CHECK(parsed.at("function_name").as_string() == "read holding registers");
  CHECK(parsed.at("transaction").to_number<int>() == 65535);
  CHECK(parsed.at("address").to_number<int>() == 65535);
  CHECK(parsed.at("values").as_array().at(1).to_number<int>() == 65535);
  CHECK(parsed.at("values_truncated").as_bool());
  CHECK(parsed.at("hold").to_number<std::uint64_t>() == e.hold);
  CHECK(parsed.at("exception").to_number<int>() == 4);
  CHECK(parsed.size() == 16);
}

TEST_CASE("event values are bounded, held requests keep them all") {
  ModbusLimits limits;
  limits.maxEventValues = 4;
  ModbusInspector insp(approveWrites(), limits);
  auto out = insp.onClient(frame(1, 1, writeCoilsPdu(0, std::vector<bool>(1968, true))), at(0));
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].values.size() == 4);
  CHECK(out.events[0].valuesTruncated);
  CHECK_THAT(toJson(out.events[0]),
             Catch::Contains(R"("values":[1,1,1,1],"values_truncated":true)"));
  REQUIRE(out.held.size() == 1);
  CHECK(out.held[0].request.values.size() == 1968);
}
