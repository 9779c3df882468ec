// S7Inspector byte for byte: what reaches the PLC, what the client gets back, and the events.
#include <catch2/catch.hpp>

#include "conduit/tunnel/s7_inspector.hpp"
#include "tunnel/s7_frames.hpp"

using namespace conduit;
using namespace conduit::tunnel;
using namespace conduit::tunnel::s7testing;
using namespace std::chrono_literals;

namespace {

std::vector<S7Decision> decisions(const S7InspectorOutput& out) {
  std::vector<S7Decision> d;
  for (const auto& e : out.events) d.push_back(e.decision);
  return d;
}

constexpr std::uint16_t kNotPermitted = 0xD241;
constexpr std::uint16_t kNoResources = 0x8302;
constexpr std::uint16_t kWrongFrames = 0x8500;
constexpr std::uint16_t kCancelled = 0x8503;

const Bytes kReadDb1 = dt(job(2, varParam(0x04, {anyItem(0x84, 1, 0, 2, 4)})));
const Bytes kReadDb1Answer = dt(ackData(2, {0x04, 1}, byteData({1, 2, 3, 4}, 0xff)));
const Bytes kWriteDb1 =
    dt(job(3, varParam(0x05, {anyItem(0x84, 1, 0, 2, 2)}), byteData({0x12, 0x34})));

// An inspector whose connection is set up: CR/CC and setup communication done.
S7Inspector connected(core::S7Options options, S7Limits limits = {}) {
  S7Inspector insp(std::move(options), limits);
  (void)insp.onClient(connectRequest(), at(0));
  (void)insp.onServer(connectConfirm(), at(0));
  (void)insp.onClient(dt(job(1, setupParam(480))), at(0));
  (void)insp.onServer(dt(ackData(1, setupParam(240))), at(0));
  REQUIRE(insp.inFlight() == 0);
  return insp;
}

}  // namespace

TEST_CASE("connection setup passes unchanged and is recorded") {
  S7Inspector insp(readOnly());
  auto out = insp.onClient(connectRequest(), at(0));
  CHECK(out.toServer == connectRequest());
  CHECK(out.toClient.empty());
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].message == S7Event::Message::connection);
  CHECK(out.events[0].cotp == CotpKind::connect_request);
  CHECK(out.events[0].calledTsap == Bytes{1, 2});
  CHECK(toJson(out.events[0]) ==
        R"({"protocol":"s7","time_us":1700000000000000,"message":"connection","origin":"client",)"
        R"("cotp":"CR","calling_tsap":"0100","called_tsap":"0102","tpdu_size":1024,)"
        R"("decision":"forward"})");

  out = insp.onServer(connectConfirm(), at(0));
  CHECK(out.toClient == connectConfirm());
  CHECK(out.toServer.empty());

  const Bytes setup = dt(job(1, setupParam(480)));
  out = insp.onClient(setup, at(0));
  CHECK(out.toServer == setup);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].decision == S7Decision::allow);
  CHECK(out.events[0].pduSize == 480);

  const Bytes granted = dt(ackData(1, setupParam(240)));
  out = insp.onServer(granted, at(0));
  CHECK(out.toClient == granted);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].decision == S7Decision::forward);
  CHECK(out.events[0].pduSize == 240);
  CHECK(insp.inFlight() == 0);
}

TEST_CASE("a read var goes to the PLC unchanged and its response back to the client") {
  auto insp = connected(readOnly());
  auto out = insp.onClient(kReadDb1, at(1));
  CHECK(out.toServer == kReadDb1);
  CHECK(out.toClient.empty());
  REQUIRE(out.events.size() == 1);
  const auto& e = out.events[0];
  CHECK(e.message == S7Event::Message::request);
  CHECK(e.decision == S7Decision::allow);
  CHECK(e.pduRef == 2);
  CHECK(e.function == 0x04);
  CHECK(e.itemCount == 1);
  REQUIRE(e.items.size() == 1);
  CHECK(e.items[0] == S7Item{0x10, 2, 4, 1, 0x84, 0});
  CHECK(insp.inFlight() == 1);

  out = insp.onServer(kReadDb1Answer, at(1));
  CHECK(out.toClient == kReadDb1Answer);
  CHECK(out.toServer.empty());
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].message == S7Event::Message::response);
  CHECK(out.events[0].decision == S7Decision::forward);
  REQUIRE(out.events[0].values.size() == 1);
  CHECK(out.events[0].values[0].returnCode == 0xff);
  CHECK(out.events[0].values[0].bytes == Bytes{1, 2, 3, 4});
  CHECK(toJson(out.events[0]) ==
        R"({"protocol":"s7","time_us":1700000001000000,"message":"response","origin":"plc",)"
        R"("rosctr":"ack_data","pdu_ref":2,"function":4,"function_name":"read var",)"
        R"("class":"read","item_count":1,"items":[{"area":"DB","db":1,"byte":0,"bit":0,)"
        R"("transport":"BYTE","count":4}],"values":[{"return_code":255,"transport":4,)"
        R"("hex":"01020304"}],"decision":"forward"})");
  CHECK(insp.inFlight() == 0);
}

TEST_CASE("a read-only grant refuses every state change with an exact error reply") {
  auto insp = connected(readOnly());
  struct Case {
    const char* what;
    Bytes request;
    Bytes answer;
  };
  const std::vector<Case> cases = {
      {"write var", kWriteDb1, {3, 0, 0, 21, 2, 0xf0, 0x80, 0x32, 3,    0, 0,
                                0, 3, 0, 2,  0, 0,    0xd2, 0x41, 0x05, 0}},
      {"request download",
       dt(job(4, {0x1a, 0, 1, 0, 0, 0, 0, 0, 9, '_', '0', 'B', '0', '0', '0', '0', '1', 'P'})),
       {3, 0, 0, 20, 2, 0xf0, 0x80, 0x32, 3, 0, 0, 0, 4, 0, 1, 0, 0, 0xd2, 0x41, 0x1a}},
      {"download block", dt(job(5, {0x1b, 0})), refusal(5, 0x1b, kNotPermitted)},
      {"download ended", dt(job(6, {0x1c, 0})), refusal(6, 0x1c, kNotPermitted)},
      {"PLC control (start)",
       dt(job(7, join({{0x28, 0, 0, 0, 0, 0, 0, 0xfd, 0, 0, 9},
                       Bytes{'P', '_', 'P', 'R', 'O', 'G', 'R', 'A', 'M'}}))),
       {3, 0, 0, 20, 2, 0xf0, 0x80, 0x32, 3, 0, 0, 0, 7, 0, 1, 0, 0, 0xd2, 0x41, 0x28}},
      {"PLC stop",
       dt(job(8, join({{0x29, 0, 0, 0, 0, 0, 9},
                       Bytes{'P', '_', 'P', 'R', 'O', 'G', 'R', 'A', 'M'}}))),
       {3, 0, 0, 20, 2, 0xf0, 0x80, 0x32, 3, 0, 0, 0, 8, 0, 1, 0, 0, 0xd2, 0x41, 0x29}},
      {"CPU services", dt(job(9, {0x00, 1, 2})), refusal(9, 0x00, kNotPermitted)},
      {"an undocumented function", dt(job(10, {0x77})), refusal(10, 0x77, kNotPermitted)},
      {"userdata set clock",
       dt(userdata(11, 4, 7, 2, {0xff, 9, 0, 10, 0, 0x19, 5, 8, 0x23, 4, 0x10, 0x23, 0x67, 0x83})),
       {3, 0, 0,    33, 2,    0xf0, 0x80, 0x32, 7, 0, 0,    0,    11,   0, 12, 0, 4,
        0, 1, 0x12, 8,  0x12, 0x87, 2,    0,    0, 0, 0xd2, 0x41, 0x03, 0, 0,  0}},
      {"userdata force (programmer commands)", dt(userdata(12, 4, 1, 9, {0xff, 9, 0, 0})),
       dt(userdata(12, 8, 1, 9, {0x03, 0, 0, 0}, kNotPermitted))},
      {"userdata PLC password", dt(userdata(13, 4, 5, 1, {0xff, 9, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8})),
       dt(userdata(13, 8, 5, 1, {0x03, 0, 0, 0}, kNotPermitted))},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    const auto out = insp.onClient(c.request, at(1));
    CHECK(out.toServer.empty());
    CHECK(out.toClient == c.answer);
    REQUIRE(out.events.size() == 1);
    CHECK(out.events[0].decision == S7Decision::deny);
    CHECK(out.events[0].error == kNotPermitted);
    CHECK_THAT(out.events[0].reason, Catch::Contains("read-only"));
    CHECK_FALSE(out.close);
  }
  CHECK(insp.inFlight() == 0);
}

TEST_CASE("on read-only grants reads pass: read var, uploads, SZL, block lists, the clock") {
  auto insp = connected(readOnly());
  const std::vector<Bytes> reads = {
      kReadDb1,
      dt(job(20, {0x1d, 0, 0, 0, 0, 0, 0, 0, 9, '_', '0', 'B', '0', '0', '0', '0', '1', 'A'})),
      dt(job(21, {0x1e, 0, 0, 0, 0, 0, 0, 7})),
      dt(job(22, {0x1f, 0, 0, 0, 0, 0, 0, 7})),
      dt(userdata(23, 4, 4, 1, {0xff, 9, 0, 4, 0, 0x11, 0, 0})),  // read SZL 0x0011
      dt(userdata(24, 4, 3, 1, {0x0a, 0, 0, 0})),                 // list blocks
      dt(userdata(25, 4, 7, 1, {0x0a, 0, 0, 0})),                 // read clock
  };
  for (const auto& r : reads) {
    const auto out = insp.onClient(r, at(1));
    CHECK(out.toServer == r);
    CHECK(out.toClient.empty());
    CHECK(decisions(out) == std::vector<S7Decision>{S7Decision::allow});
  }
  CHECK(insp.inFlight() == reads.size());
  // The SZL answer comes back as a userdata response and is matched by PDU reference.
  const Bytes szl = dt(userdata(23, 8, 4, 1, {0xff, 9, 0, 4, 0, 0x11, 0, 0}));
  const auto out = insp.onServer(szl, at(2));
  CHECK(out.toClient == szl);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].decision == S7Decision::forward);
  CHECK_THAT(toJson(out.events[0]),
             Catch::Contains(R"("group":4,"subfunction":1,"function_name":"read SZL")"));
  CHECK(insp.inFlight() == reads.size() - 1);
}

TEST_CASE("writable grants: write var passes, programming and control only when listed") {
  SECTION("no list: write var passes, download and stop are refused") {
    auto insp = connected(writable());
    CHECK(insp.onClient(kWriteDb1, at(1)).toServer == kWriteDb1);
    auto out = insp.onClient(dt(job(4, {0x29, 0, 0, 0, 0, 0, 9})), at(1));
    CHECK(out.toServer.empty());
    CHECK(out.toClient == refusal(4, 0x29, kNotPermitted));
    CHECK(out.events[0].reason ==
          "function 0x29 (PLC stop) is in class control, allowed only when listed in the grant's "
          "functions");
    // Userdata that changes state: allowed where writes are and nothing is listed.
    const Bytes setClock = dt(userdata(5, 4, 7, 2, {0xff, 9, 0, 2, 1, 2}));
    CHECK(insp.onClient(setClock, at(1)).toServer == setClock);
  }
  SECTION("a list: only the listed functions, and no userdata that changes state") {
    auto insp = connected(writable({0x04, 0x29}));
    CHECK(insp.onClient(dt(job(4, {0x29, 0, 0, 0, 0, 0, 9})), at(1)).toServer ==
          dt(job(4, {0x29, 0, 0, 0, 0, 0, 9})));
    auto out = insp.onClient(kWriteDb1, at(1));
    CHECK(out.toClient == refusal(3, 0x05, kNotPermitted));
    CHECK(out.events[0].reason == "function 0x05 (write var) is not among the grant's functions");
    out = insp.onClient(dt(userdata(5, 4, 7, 2, {0xff, 9, 0, 2, 1, 2})), at(1));
    CHECK(out.toServer.empty());
    CHECK(out.events[0].reason ==
          "userdata set clock is not a read, and the grant allows only the job functions it "
          "lists");
  }
}

TEST_CASE("many packets in one read: allowed ones forwarded, refused ones answered, in order") {
  auto insp = connected(readOnly());
  const Bytes r4 = dt(job(4, varParam(0x04, {anyItem(0x83, 0, 10, 2, 1)})));
  const Bytes all = join({kReadDb1, kWriteDb1, r4, dt(job(5, {0x29, 0}))});
  const Bytes expectedToPlc = join({kReadDb1, r4});
  const Bytes expectedToClient =
      join({refusal(3, 0x05, kNotPermitted), refusal(5, 0x29, kNotPermitted)});
  SECTION("in one read") {
    const auto out = insp.onClient(all, at(1));
    CHECK(out.toServer == expectedToPlc);
    CHECK(out.toClient == expectedToClient);
    CHECK(decisions(out) == std::vector<S7Decision>{S7Decision::allow, S7Decision::deny,
                                                    S7Decision::allow, S7Decision::deny});
  }
  SECTION("split at every byte boundary into two reads") {
    for (std::size_t cut = 0; cut <= all.size(); ++cut) {
      auto fresh = connected(readOnly());
      INFO("cut at " << cut);
      auto a = fresh.onClient(std::span(all).first(cut), at(1));
      auto b = fresh.onClient(std::span(all).subspan(cut), at(1));
      CHECK(join({a.toServer, b.toServer}) == expectedToPlc);
      CHECK(join({a.toClient, b.toClient}) == expectedToClient);
      CHECK_FALSE(a.close);
      CHECK_FALSE(b.close);
    }
  }
  SECTION("responses split and coalesced the same way") {
    (void)insp.onClient(all, at(1));
    const Bytes a4 = dt(ackData(4, {0x04, 1}, byteData({9}, 0xff)));
    const Bytes both = join({a4, kReadDb1Answer});
    Bytes toClient;
    for (std::size_t i = 0; i < both.size(); i += 3) {
      const auto out = insp.onServer(
          std::span(both).subspan(i, std::min<std::size_t>(3, both.size() - i)), at(2));
      toClient.insert(toClient.end(), out.toClient.begin(), out.toClient.end());
    }
    CHECK(toClient == both);
    CHECK(insp.inFlight() == 0);
  }
}

TEST_CASE("an S7 PDU segmented over several data TPDUs is decided once, as a whole") {
  const Bytes pdu = job(3, varParam(0x05, {anyItem(0x84, 1, 0, 2, 2)}), byteData({0x12, 0x34}));
  const Bytes first = dt(Bytes(pdu.begin(), pdu.begin() + 11), false);
  const Bytes second = dt(Bytes(pdu.begin() + 11, pdu.begin() + 20), false);
  const Bytes third = dt(Bytes(pdu.begin() + 20, pdu.end()), true);
  SECTION("a refused write: no segment reaches the PLC") {
    auto insp = connected(readOnly());
    auto out = insp.onClient(join({first, second}), at(1));
    CHECK(out.toServer.empty());
    CHECK(out.events.empty());
    out = insp.onClient(third, at(1));
    CHECK(out.toServer.empty());
    CHECK(out.toClient == refusal(3, 0x05, kNotPermitted));
  }
  SECTION("an allowed write: all segments, unchanged") {
    auto insp = connected(writable());
    auto out = insp.onClient(join({first, second, third}), at(1));
    CHECK(out.toServer == join({first, second, third}));
    CHECK(decisions(out) == std::vector<S7Decision>{S7Decision::allow});
  }
  SECTION("more than 8192 bytes of segments close the connection") {
    auto insp = connected(writable());
    const Bytes big = dt(Bytes(4000, 0), false);
    auto out = insp.onClient(join({big, big}), at(1));
    CHECK_FALSE(out.close);
    out = insp.onClient(big, at(1));
    REQUIRE(out.close);
    CHECK(*out.close == "the client sent an S7 PDU of more than 8192 bytes");
    CHECK(out.toServer.empty());
  }
}

TEST_CASE("protocol errors close the connection with the reason") {
  SECTION("garbage from the client after good packets: the good ones still go") {
    auto insp = connected(readOnly());
    auto out = insp.onClient(join({kReadDb1, {'G', 'E', 'T', ' '}}), at(1));
    CHECK(out.toServer == kReadDb1);
    REQUIRE(out.close);
    CHECK(*out.close == "the client sent not ISO-on-TCP: TPKT version 71, expected 3");
    out = insp.onClient(kReadDb1, at(1));  // and nothing afterwards
    CHECK(out.toServer.empty());
    CHECK(out.close);
    CHECK(insp.onServer(kReadDb1Answer, at(1)).toClient.empty());
  }
  struct Case {
    bool fromClient;
    Bytes bytes;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {true, {3, 0, 0xff, 0xff}, "the client sent TPKT length 65535 outside 7..8196"},
      {true, tpkt({2, 0x10, 0x80, 0x32}),
       "the client sent COTP TPDU type 0x10 is not used by ISO-on-TCP (class 0)"},
      {true, connectConfirm(), "the client sent a COTP CC, which only the PLC sends"},
      {false, connectRequest(), "the PLC sent a COTP CR, which only the client sends"},
      {true, dt({0x72, 1, 0, 0x1f, 0, 0, 0}),
       "the client sent S7comm-plus (protocol id 0x72), which cannot be inspected"},
      {true, dt({0x45, 0, 0, 0}), "the client sent not S7comm: protocol id 0x45, expected 0x32"},
      {false, dt({0x32, 3, 0, 0, 0, 1, 0, 9, 0, 0, 0, 0}),
       "the PLC sent S7 lengths that do not add up: header 12 + parameter 9 + data 0 in a PDU "
       "of 12 bytes"},
      {true, dt({}), "the client sent an empty S7 PDU"},
  };
  for (const auto& c : cases) {
    INFO(c.reason);
    auto insp = connected(writable());
    const auto out = c.fromClient ? insp.onClient(c.bytes, at(1)) : insp.onServer(c.bytes, at(1));
    REQUIRE(out.close);
    CHECK(*out.close == c.reason);
    CHECK(out.toServer.empty());
    CHECK(out.toClient.empty());
  }
}

TEST_CASE("malformed requests are answered 0x8500 and never reach the PLC") {
  auto insp = connected(readOnly());
  auto out = insp.onClient(dt(job(4, {0x04, 0})), at(1));
  CHECK(out.toServer.empty());
  CHECK(out.toClient == refusal(4, 0x04, kWrongFrames));
  CHECK(out.events[0].reason == "read var: no items");
  // The function is checked first: a malformed write is refused as a write.
  out = insp.onClient(dt(job(5, {0x05, 0})), at(1));
  CHECK(out.toClient == refusal(5, 0x05, kNotPermitted));
  // Userdata the client sends must be a request.
  out = insp.onClient(dt(userdata(6, 8, 4, 1, {0x0a, 0, 0, 0})), at(1));
  CHECK(out.toServer.empty());
  CHECK(out.events[0].error == kWrongFrames);
  CHECK(out.events[0].reason == "userdata of type 8 from the client is not a request");
}

TEST_CASE("responses are matched to requests by PDU reference") {
  auto insp = connected(readOnly());
  const Bytes r5 = dt(job(5, varParam(0x04, {anyItem(0x83, 0, 0, 2, 1)})));
  (void)insp.onClient(join({kReadDb1, r5}), at(1));
  REQUIRE(insp.inFlight() == 2);
  const Bytes a5 = dt(ackData(5, {0x04, 1}, byteData({0x55}, 0xff)));

  SECTION("out of order") {
    auto out = insp.onServer(join({a5, kReadDb1Answer}), at(2));
    CHECK(out.toClient == join({a5, kReadDb1Answer}));
    REQUIRE(out.events.size() == 2);
    CHECK(out.events[0].pduRef == 5);
    CHECK(out.events[0].values[0].bytes == Bytes{0x55});
    CHECK(out.events[1].pduRef == 2);
    CHECK(insp.inFlight() == 0);
  }
  SECTION("an unknown reference is dropped with an event") {
    auto out = insp.onServer(dt(ackData(99, {0x04, 1}, byteData({1}, 0xff))), at(2));
    CHECK(out.toClient.empty());
    REQUIRE(out.events.size() == 1);
    CHECK(out.events[0].decision == S7Decision::drop);
    CHECK(out.events[0].reason == "no request of the client's in flight has PDU reference 99");
    CHECK(insp.inFlight() == 2);
  }
  SECTION("an answer for another function is dropped; the request stays in flight") {
    auto out = insp.onServer(dt(ackData(5, {0x05, 1}, {0xff})), at(2));
    CHECK(out.toClient.empty());
    REQUIRE(out.events.size() == 1);
    CHECK(out.events[0].decision == S7Decision::drop);
    CHECK(out.events[0].reason ==
          "ack_data for 0x05 (write var) does not answer function 0x04 (read var)");
    CHECK(insp.inFlight() == 2);
  }
  SECTION("the PLC's own errors are forwarded and recorded") {
    const Bytes error = dt(ackData(5, {0x04, 0}, {}, 0x81, 0x04));
    auto out = insp.onServer(error, at(2));
    CHECK(out.toClient == error);
    REQUIRE(out.events.size() == 1);
    CHECK(out.events[0].decision == S7Decision::forward);
    CHECK(out.events[0].error == 0x8104);
  }
  SECTION("a second answer to the same reference is dropped") {
    CHECK(insp.onServer(a5, at(2)).toClient == a5);
    const auto out = insp.onServer(a5, at(2));
    CHECK(out.toClient.empty());
    CHECK(decisions(out) == std::vector<S7Decision>{S7Decision::drop});
  }
}

TEST_CASE("a PLC that does not answer: the client gets 0x8503, a late answer is dropped") {
  S7Limits limits;
  limits.responseTimeout = 60s;
  auto insp = connected(readOnly(), limits);
  (void)insp.onClient(kReadDb1, at(0));
  CHECK(insp.tick(at(59)).toClient.empty());
  auto out = insp.tick(at(60));
  CHECK(out.toClient == refusal(2, 0x04, kCancelled));
  CHECK(decisions(out) == std::vector<S7Decision>{S7Decision::expired});
  CHECK(out.events[0].reason == "the PLC did not answer within 60 s");
  CHECK(insp.inFlight() == 0);
  out = insp.onServer(kReadDb1Answer, at(61));
  CHECK(out.toClient.empty());
  CHECK(decisions(out) == std::vector<S7Decision>{S7Decision::drop});
}

TEST_CASE("a flooding client gets 0x8302 beyond the requests in flight allowed") {
  S7Limits limits;
  limits.maxInFlight = 3;
  auto insp = connected(readOnly(), limits);
  Bytes flood;
  for (std::uint16_t ref = 10; ref < 15; ++ref) {
    const auto r = dt(job(ref, varParam(0x04, {anyItem(0x84, 1, 0, 2, 1)})));
    flood.insert(flood.end(), r.begin(), r.end());
  }
  const auto out = insp.onClient(flood, at(1));
  CHECK(out.toServer == Bytes(flood.begin(), flood.begin() + 3 * 31));  // 31 bytes per packet
  CHECK(out.toClient == join({refusal(13, 0x04, kNoResources), refusal(14, 0x04, kNoResources)}));
  CHECK(out.events[3].reason == "3 requests already wait for the PLC");
  CHECK(insp.inFlight() == 3);
}

TEST_CASE("a download where the grant lists it: the PLC's own jobs pass while it is open") {
  auto insp = connected(writable({0x04, 0x1a, 0x1b, 0x1c, 0x28}));
  const Bytes request =
      dt(job(4, {0x1a, 0, 1, 0, 0, 0, 0, 0, 9, '_', '0', 'B', '0', '0', '0', '0', '1', 'P'}));
  CHECK(insp.onClient(request, at(1)).toServer == request);
  const Bytes accepted = dt(ackData(4, {0x1a}));
  CHECK(insp.onServer(accepted, at(1)).toClient == accepted);
  REQUIRE(insp.downloadOpen());

  // The PLC asks the client for the block; the client's answer carries it to the PLC.
  const Bytes ask =
      dt(job(0x100, {0x1b, 0, 0, 0, 0, 0, 0, 0, 9, '_', '0', 'B', '0', '0', '0', '0', '1', 'P'}));
  auto out = insp.onServer(ask, at(2));
  CHECK(out.toClient == ask);
  CHECK(out.events[0].fromPlc);
  CHECK(out.events[0].decision == S7Decision::allow);
  const Bytes block = dt(ackData(0x100, {0x1b, 0}, {0, 4, 0xfb, 0, 1, 2, 3, 4}));
  out = insp.onClient(block, at(2));
  CHECK(out.toServer == block);
  CHECK(decisions(out) == std::vector<S7Decision>{S7Decision::forward});

  // Draining now lets the transfer finish.
  out = insp.drainForEnd(at(3));
  CHECK_FALSE(out.drained);
  const Bytes ended =
      dt(job(0x101, {0x1c, 0, 0, 0, 0, 0, 0, 0, 9, '_', '0', 'B', '0', '0', '0', '0', '1', 'P'}));
  CHECK(insp.onServer(ended, at(3)).toClient == ended);
  out = insp.onClient(dt(ackData(0x101, {0x1c})), at(3));
  CHECK(out.toServer == dt(ackData(0x101, {0x1c})));
  CHECK_FALSE(insp.downloadOpen());
  CHECK(out.drained);
  // The block is loaded but not yet inserted: inserting it changes the program, so no more.
  out = insp.onClient(dt(job(5, {0x28, 0, 0, 0, 0, 0, 0, 0xfd})), at(3));
  CHECK(out.toClient == refusal(5, 0x28, kNoResources));
  CHECK(out.events[0].reason == "the session is ending: no new state changes");
}

TEST_CASE("jobs the PLC sends outside a requested download are refused on the client's behalf") {
  auto insp = connected(writable({0x04, 0x1a, 0x1b, 0x1c}));
  auto out = insp.onServer(dt(job(0x200, {0x1b, 0, 0, 0, 0, 0, 0, 0})), at(1));
  CHECK(out.toClient.empty());
  CHECK(out.toServer == refusal(0x200, 0x1b, kNotPermitted));
  CHECK(out.events[0].reason ==
        "function 0x1B (download block) from the PLC, but no download the client requested is "
        "open");
  out = insp.onServer(dt(job(0x201, varParam(0x04, {anyItem(0x84, 1, 0, 2, 1)}))), at(1));
  CHECK(out.toClient.empty());
  CHECK(out.toServer == refusal(0x201, 0x04, kNotPermitted));
  // A client's answer to nothing the PLC asked is dropped.
  out = insp.onClient(dt(ackData(0x300, {0x1b, 0}, {0, 1, 0xfb, 0, 7})), at(1));
  CHECK(out.toServer.empty());
  CHECK(out.events[0].reason == "no job of the PLC's in flight has PDU reference 768");
  // A refused download never opens one.
  auto ro = connected(readOnly());
  (void)ro.onClient(dt(job(4, {0x1a, 0})), at(1));
  (void)ro.onServer(dt(ackData(4, {0x1a})), at(1));  // an answer to nothing: dropped
  CHECK_FALSE(ro.downloadOpen());
}

TEST_CASE("draining at session end: state changes refused, reads and requests in flight finish") {
  auto insp = connected(writable());
  (void)insp.onClient(join({kWriteDb1, kReadDb1}), at(0));
  REQUIRE(insp.inFlight() == 2);

  auto out = insp.drainForEnd(at(1));
  CHECK_FALSE(out.drained);
  CHECK(insp.draining());

  const Bytes w6 = dt(job(6, varParam(0x05, {anyItem(0x84, 1, 0, 2, 1)}), byteData({1})));
  const Bytes r7 = dt(job(7, varParam(0x04, {anyItem(0x84, 1, 0, 2, 1)})));
  out = insp.onClient(join({w6, r7}), at(2));
  CHECK(out.toClient == refusal(6, 0x05, kNoResources));
  CHECK(out.toServer == r7);
  CHECK_FALSE(out.drained);

  const Bytes answers = join({dt(ackData(3, {0x05, 1}, {0xff})), kReadDb1Answer});
  out = insp.onServer(answers, at(3));
  CHECK(out.toClient == answers);
  CHECK_FALSE(out.drained);  // 7 is still in flight
  out = insp.onServer(dt(ackData(7, {0x04, 1}, byteData({0}, 0xff))), at(3));
  CHECK(out.drained);
  CHECK(insp.drained());
}

TEST_CASE("S7: draining with nothing in flight is drained at once") {
  auto insp = connected(readOnly());
  CHECK(insp.drainForEnd(at(0)).drained);
}

TEST_CASE("a refused write's event encodes to JSON for the recording") {
  auto insp = connected(readOnly());
  const auto out = insp.onClient(kWriteDb1, at(1));
  REQUIRE(out.events.size() == 1);
  CHECK(toJson(out.events[0]) ==
        R"({"protocol":"s7","time_us":1700000001000000,"message":"request","origin":"client",)"
        R"("rosctr":"job","pdu_ref":3,"function":5,"function_name":"write var","class":"write",)"
        R"("item_count":1,"items":[{"area":"DB","db":1,"byte":0,"bit":0,"transport":"BYTE",)"
        R"("count":2}],"values":[{"return_code":0,"transport":4,"hex":"1234"}],)"
        R"("decision":"deny","error":"0xD241","reason":"function 0x05 (write var) can change )"
        R"(the PLC's state and the grant is read-only"})");
}

TEST_CASE("event items and values are bounded, the PLC gets them all") {
  S7Limits limits;
  limits.maxEventItems = 2;
  limits.maxValueBytes = 3;
  auto insp = connected(writable(), limits);
  const Bytes write =
      dt(job(4,
             varParam(0x05, {anyItem(0x84, 1, 0, 2, 4), anyItem(0x84, 1, 4, 2, 4),
                             anyItem(0x84, 1, 8, 2, 4)}),
             join({byteData({1, 2, 3, 4}), byteData({5, 6, 7, 8}), byteData({9, 10, 11, 12})})));
  const auto out = insp.onClient(write, at(1));
  CHECK(out.toServer == write);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].itemCount == 3);
  CHECK(out.events[0].items.size() == 2);
  REQUIRE(out.events[0].values.size() == 2);
  CHECK(out.events[0].values[0].bytes == Bytes{1, 2, 3});
  CHECK_THAT(toJson(out.events[0]), Catch::Contains(R"("hex":"010203","truncated":true)") &&
                                        Catch::Contains(R"("items_truncated":true)"));
}
