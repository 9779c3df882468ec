// S7TunnelInspector: the S7 inspector behind the generic tunnel seam, as the relay uses it.
#include <catch2/catch.hpp>

#include <memory>

#include "conduit/tunnel/s7_tunnel.hpp"
#include "tunnel/s7_frames.hpp"

using namespace conduit;
using namespace conduit::tunnel;
using namespace conduit::tunnel::s7testing;
using namespace std::chrono_literals;

namespace {

TunnelInspector::TimePoint when(int s) {
  return TunnelInspector::TimePoint{std::chrono::seconds{1'700'000'000} + std::chrono::seconds{s}};
}

}  // namespace

TEST_CASE("the S7 tunnel inspector turns the inspector's output into verdicts") {
  std::unique_ptr<TunnelInspector> insp = std::make_unique<S7TunnelInspector>(readOnly());
  auto v = insp->onClientBytes(connectRequest(), when(0));
  CHECK(v.toTarget == connectRequest());
  REQUIRE(v.events.size() == 1);
  CHECK(v.events[0].protocol == "s7");
  CHECK(v.events[0].decision == "forward");
  CHECK_THAT(v.events[0].summary, Catch::Contains(R"("cotp":"CR")"));
  CHECK(insp->onServerBytes(connectConfirm(), when(0)).toClient == connectConfirm());

  // A refused write: the reply to the client, nothing to the target, the event recorded.
  const Bytes write =
      dt(job(3, varParam(0x05, {anyItem(0x84, 1, 0, 2, 2)}), byteData({0x12, 0x34})));
  v = insp->onClientBytes(write, when(1));
  CHECK(v.toTarget.empty());
  CHECK(v.toClient == refusal(3, 0x05, 0xD241));
  REQUIRE(v.events.size() == 1);
  CHECK(v.events[0].decision == "deny");
  CHECK_THAT(v.events[0].summary, Catch::Contains(R"("time_us":1700000001000000,)") &&
                                      Catch::Contains(R"("error":"0xD241")"));
  CHECK_FALSE(v.close);

  // A read in flight keeps the drain open until its answer; the tick times it out.
  const Bytes read = dt(job(4, varParam(0x04, {anyItem(0x84, 1, 0, 2, 2)})));
  CHECK(insp->onClientBytes(read, when(2)).toTarget == read);
  (void)insp->drain(when(3));
  CHECK_FALSE(insp->drained());
  CHECK(insp->onTick(when(61)).toClient.empty());
  v = insp->onTick(when(62));
  CHECK(v.toClient == refusal(4, 0x04, 0x8503));
  REQUIRE(v.events.size() == 1);
  CHECK(v.events[0].decision == "expired");
  CHECK(insp->drained());
}

TEST_CASE("the S7 tunnel inspector passes the reason to close") {
  S7TunnelInspector insp(writable());
  const auto v = insp.onServerBytes(Bytes{0x16, 0x03, 0x01}, when(0));
  REQUIRE(v.close);
  CHECK(*v.close == "the PLC sent not ISO-on-TCP: TPKT version 22, expected 3");
  CHECK(v.toClient.empty());
}
