// decideRequest: function classes, unit ids, address ranges and the protocol's quantity limits,
// against the grant's ModbusOptions.
#include <catch2/catch.hpp>

#include "conduit/tunnel/modbus_inspector.hpp"
#include "tunnel/modbus_frames.hpp"

using namespace conduit;
using namespace conduit::tunnel;
using namespace conduit::tunnel::testing;
using Kind = ModbusVerdict::Kind;

namespace {

// A request PDU of each function, well-formed, at address 10 where it has one.
Bytes samplePdu(std::uint8_t function, std::uint8_t sub = 0) {
  switch (function) {
    case 1:
    case 2:
    case 3:
    case 4:
      return readPdu(function, 10, 2);
    case 5:
      return {5, 0, 10, 0xff, 0x00};
    case 6:
      return writeRegisterPdu(10, 7);
    case 15:
      return writeCoilsPdu(10, {true, false, true});
    case 16:
      return writeRegistersPdu(10, {1, 2});
    case 22:
      return {22, 0, 10, 0x00, 0xf2, 0x00, 0x25};
    case 23:
      return {23, 0, 10, 0, 2, 0, 12, 0, 1, 2, 0x12, 0x34};
    case 8:
      return {8, 0, sub, 0x12, 0x34};
    case 43:
      return {43, sub, 1, 0};
    default:
      return {function, 1, 2, 3};
  }
}

ModbusVerdict decide(const core::ModbusOptions& o, const Bytes& pdu, std::uint8_t unit = 1) {
  return decideRequest(o, unit, decodeRequest(pdu));
}

// "allow", "hold" or "deny NN".
std::string outcome(const core::ModbusOptions& o, const Bytes& pdu, std::uint8_t unit = 1) {
  const auto v = decide(o, pdu, unit);
  switch (v.kind) {
    case Kind::allow:
      return "allow";
    case Kind::hold:
      return "hold";
    case Kind::deny:
      return "deny " + std::to_string(static_cast<int>(v.exception));
  }
  return "?";
}

}  // namespace

TEST_CASE("function codes fall into read, write, diagnostics and other") {
  for (int f : {1, 2, 3, 4})
    CHECK(functionClass(static_cast<std::uint8_t>(f)) == FunctionClass::read);
  for (int f : {5, 6, 15, 16, 21, 22, 23}) {
    CHECK(functionClass(static_cast<std::uint8_t>(f)) == FunctionClass::write);
  }
  for (int f : {7, 8, 11, 12, 17, 43}) {
    CHECK(functionClass(static_cast<std::uint8_t>(f)) == FunctionClass::diagnostics);
  }
  for (int f : {0,    9,    10, 13, 14,   18,   19,  20,  24,  40,  41, 42,
                0x41, 0x48, 90, 91, 0x64, 0x6e, 125, 126, 127, 128, 255}) {
    INFO("function " << f);
    CHECK(functionClass(static_cast<std::uint8_t>(f)) == FunctionClass::other);
  }
}

TEST_CASE("class defaults: reads always, writes only on writable grants, nothing else") {
  const auto ro = readOnly();
  const auto rw = writable();
  const auto ap = writable(core::WriteMode::approve);
  for (int f : {1, 2, 3, 4}) {
    const auto pdu = samplePdu(static_cast<std::uint8_t>(f));
    INFO("function " << f);
    CHECK(outcome(ro, pdu) == "allow");
    CHECK(outcome(rw, pdu) == "allow");
    CHECK(outcome(ap, pdu) == "allow");
  }
  for (int f : {5, 6, 15, 16, 22, 23}) {
    const auto pdu = samplePdu(static_cast<std::uint8_t>(f));
    INFO("function " << f);
    CHECK(outcome(ro, pdu) == "deny 1");
    CHECK(outcome(rw, pdu) == "allow");
    CHECK(outcome(ap, pdu) == "hold");
  }
  // Write file record addresses files, which ranges cannot bound: only when listed.
  CHECK(outcome(rw, samplePdu(21)) == "deny 1");
  // Diagnostics, programming, vendor and unknown codes: only when listed.
  for (int f : {7, 8, 11, 12, 17, 20, 24, 43, 0x41, 0x48, 90, 0x64, 0x6e, 0, 0x7f}) {
    const auto pdu = samplePdu(static_cast<std::uint8_t>(f), 14);
    INFO("function " << f);
    CHECK(outcome(ro, pdu) == "deny 1");
    CHECK(outcome(rw, pdu) == "deny 1");
    CHECK(outcome(ap, pdu) == "deny 1");
  }
  const auto v = decide(ro, samplePdu(6));
  CHECK(v.reason ==
        "function 6 (write single register) changes device state and the grant is read-only");
  CHECK(decide(rw, samplePdu(8, 1)).reason ==
        "function 8 (diagnostics) is in class diagnostics, allowed only when listed in the "
        "grant's function codes");
}

TEST_CASE("a function code list replaces the class defaults") {
  auto o = readOnly();
  o.functionCodes = {3, 43, 90, 17};
  CHECK(outcome(o, samplePdu(3)) == "allow");
  CHECK(outcome(o, samplePdu(4)) == "deny 1");  // a read, but not listed
  CHECK(decide(o, samplePdu(4)).reason ==
        "function 4 (read input registers) is not among the grant's function codes");
  CHECK(outcome(o, samplePdu(17)) == "allow");      // report server id, listed
  CHECK(outcome(o, samplePdu(90)) == "allow");      // a vendor code, listed explicitly
  CHECK(outcome(o, samplePdu(43, 14)) == "allow");  // read device identification
  // 43 with another MEI type (13: CANopen general reference) can write: not on read-only grants.
  CHECK(outcome(o, samplePdu(43, 13)) == "deny 1");

  SECTION("read-only refuses state changes even if a list names them") {
    o.functionCodes = {3, 6, 8};
    CHECK(outcome(o, samplePdu(6)) == "deny 1");
    CHECK(outcome(o, samplePdu(8)) == "deny 1");
    CHECK(decide(o, samplePdu(8)).reason ==
          "function 8 (diagnostics) changes device state and the grant is read-only");
    o.readOnly = false;  // inconsistent with writes = deny: the stricter reading holds
    CHECK(outcome(o, samplePdu(6)) == "deny 1");
    CHECK(decide(o, samplePdu(6)).reason ==
          "function 6 (write single register) changes device state and the grant denies writes");
  }
  SECTION("listed writes and diagnostics follow the writes mode") {
    o = writable(core::WriteMode::approve);
    o.functionCodes = {3, 6, 8, 21};
    CHECK(outcome(o, samplePdu(6)) == "hold");
    CHECK(outcome(o, samplePdu(8)) == "hold");
    CHECK(outcome(o, {21, 7, 6, 0, 1, 0, 0, 0, 1, 0, 0}) == "hold");
    CHECK(outcome(o, samplePdu(16)) == "deny 1");
    o.writes = core::WriteMode::allow;
    CHECK(outcome(o, samplePdu(6)) == "allow");
    CHECK(outcome(o, samplePdu(8)) == "allow");
  }
}

TEST_CASE("unit ids: empty means any, otherwise listed only (02)") {
  auto o = readOnly();
  CHECK(outcome(o, samplePdu(3), 0) == "allow");
  CHECK(outcome(o, samplePdu(3), 255) == "allow");
  o.unitIds = {1, 3};
  CHECK(outcome(o, samplePdu(3), 1) == "allow");
  CHECK(outcome(o, samplePdu(3), 3) == "allow");
  CHECK(outcome(o, samplePdu(3), 2) == "deny 2");
  CHECK(outcome(o, samplePdu(3), 0) == "deny 2");  // broadcast through a serial gateway
  CHECK(decide(o, samplePdu(3), 2).reason == "unit 2 is not among the grant's unit ids");
  // The function is checked first, as a server does.
  CHECK(outcome(o, samplePdu(6), 2) == "deny 1");
}

TEST_CASE("address ranges: every address of the request inside an allowed range (02)") {
  auto o = writable();
  o.ranges = {{100, 199}, {1000, 1099}};
  SECTION("boundaries of a read") {
    CHECK(outcome(o, readPdu(3, 100, 1)) == "allow");    // first address
    CHECK(outcome(o, readPdu(3, 199, 1)) == "allow");    // last address
    CHECK(outcome(o, readPdu(3, 100, 100)) == "allow");  // the whole range
    CHECK(outcome(o, readPdu(3, 99, 1)) == "deny 2");    // one before
    CHECK(outcome(o, readPdu(3, 200, 1)) == "deny 2");   // one past
    CHECK(outcome(o, readPdu(3, 190, 10)) == "allow");   // ends on the last
    CHECK(outcome(o, readPdu(3, 190, 11)) == "deny 2");  // one past the last
    CHECK(outcome(o, readPdu(3, 99, 2)) == "deny 2");    // starts one before
    CHECK(decide(o, readPdu(3, 190, 11)).reason ==
          "addresses 190..200 are outside the grant's ranges");
  }
  SECTION("coils and writes are checked the same way") {
    CHECK(outcome(o, readPdu(1, 1000, 100)) == "allow");
    CHECK(outcome(o, readPdu(1, 1000, 101)) == "deny 2");
    CHECK(outcome(o, writeRegisterPdu(1099, 5)) == "allow");
    CHECK(outcome(o, writeRegisterPdu(1100, 5)) == "deny 2");
    CHECK(outcome(o, writeRegistersPdu(198, {1, 2})) == "allow");
    CHECK(outcome(o, writeRegistersPdu(198, {1, 2, 3})) == "deny 2");
    CHECK(outcome(o, writeCoilsPdu(1097, {true, true, true})) == "allow");
    CHECK(outcome(o, writeCoilsPdu(1097, {true, true, true, true})) == "deny 2");
    CHECK(outcome(o, {5, hi(99), lo(99), 0, 0}) == "deny 2");
    CHECK(outcome(o, {22, hi(200), lo(200), 0, 1, 0, 2}) == "deny 2");
  }
  SECTION("read/write multiple registers: both blocks") {
    // read 100..101, write 1000
    CHECK(outcome(o, {23, 0, 100, 0, 2, hi(1000), lo(1000), 0, 1, 2, 0, 9}) == "allow");
    // read 100..101, write 999
    CHECK(outcome(o, {23, 0, 100, 0, 2, hi(999), lo(999), 0, 1, 2, 0, 9}) == "deny 2");
    // read 99..100, write 1000
    CHECK(outcome(o, {23, 0, 99, 0, 2, hi(1000), lo(1000), 0, 1, 2, 0, 9}) == "deny 2");
  }
  SECTION("touching and overlapping ranges cover together") {
    o.ranges = {{0, 9}, {10, 19}, {15, 30}};
    CHECK(outcome(o, readPdu(3, 0, 31)) == "allow");
    CHECK(outcome(o, readPdu(3, 0, 32)) == "deny 2");
    o.ranges = {{0, 9}, {11, 19}};
    CHECK(outcome(o, readPdu(3, 8, 4)) == "deny 2");  // the gap at 10
  }
  SECTION("no ranges: any address, but none past 65535") {
    o.ranges.clear();
    CHECK(outcome(o, readPdu(3, 65535, 1)) == "allow");
    CHECK(outcome(o, readPdu(3, 65534, 2)) == "allow");
    CHECK(outcome(o, readPdu(3, 65535, 2)) == "deny 2");
    CHECK(decide(o, readPdu(3, 65535, 2)).reason == "addresses 65535..65536 run past 65535");
    o.ranges = {{0, 65535}};
    CHECK(outcome(o, readPdu(1, 65535, 2000)) == "deny 2");
  }
  SECTION("diagnostics and other listed codes carry no address to check") {
    o.functionCodes = {3, 17};
    CHECK(outcome(o, {17}) == "allow");
  }
}

TEST_CASE("the protocol's quantity limits (03)") {
  const auto o = writable();
  CHECK(outcome(o, readPdu(1, 0, 0)) == "deny 3");
  CHECK(outcome(o, readPdu(1, 0, 1)) == "allow");
  CHECK(outcome(o, readPdu(1, 0, 2000)) == "allow");
  CHECK(outcome(o, readPdu(1, 0, 2001)) == "deny 3");
  CHECK(outcome(o, readPdu(2, 0, 2000)) == "allow");
  CHECK(outcome(o, readPdu(2, 0, 2001)) == "deny 3");
  CHECK(outcome(o, readPdu(3, 0, 0)) == "deny 3");
  CHECK(outcome(o, readPdu(3, 0, 125)) == "allow");
  CHECK(outcome(o, readPdu(3, 0, 126)) == "deny 3");
  CHECK(outcome(o, readPdu(4, 0, 125)) == "allow");
  CHECK(outcome(o, readPdu(4, 0, 126)) == "deny 3");
  CHECK(decide(o, readPdu(3, 0, 126)).reason ==
        "quantity 126 outside 1..125 for read holding registers");

  CHECK(outcome(o, writeCoilsPdu(0, std::vector<bool>(1968, true))) == "allow");
  CHECK(outcome(o, writeCoilsPdu(0, std::vector<bool>(1969, true))) == "deny 3");
  CHECK(outcome(o, writeRegistersPdu(0, std::vector<std::uint16_t>(123, 1))) == "allow");
  CHECK(outcome(o, writeRegistersPdu(0, std::vector<std::uint16_t>(124, 1))) == "deny 3");
  CHECK(outcome(o, writeRegistersPdu(0, {})) == "deny 3");

  SECTION("read/write multiple registers: read 1..125, write 1..121") {
    auto rw = [](std::uint16_t rq, std::uint16_t wq) {
      Bytes p = {23, 0, 0, hi(rq), lo(rq), 0, 0, hi(wq), lo(wq), static_cast<std::uint8_t>(2 * wq)};
      p.resize(p.size() + 2u * wq, 0);
      return p;
    };
    CHECK(outcome(o, rw(125, 121)) == "allow");
    CHECK(outcome(o, rw(126, 1)) == "deny 3");
    CHECK(outcome(o, rw(1, 122)) == "deny 3");
    CHECK(outcome(o, rw(0, 1)) == "deny 3");
  }
  SECTION("byte counts, lengths and coil values must agree with the specification") {
    Bytes p = writeRegistersPdu(0, {1, 2});
    p[5] = 5;  // byte count says 5, quantity 2 needs 4
    CHECK(outcome(o, p) == "deny 3");
    CHECK(decide(o, p).reason == "byte count 5 does not match quantity 2 (4)");
    p = writeRegistersPdu(0, {1, 2});
    p.push_back(0);  // a trailing byte
    CHECK(outcome(o, p) == "deny 3");
    CHECK(outcome(o, {3, 0, 0, 0}) == "deny 3");  // truncated read
    CHECK(decide(o, {3, 0, 0, 0}).reason == "read holding registers PDU of 4 bytes, expected 5");
    CHECK(outcome(o, {5, 0, 0, 0x12, 0x34}) == "deny 3");
    CHECK(decide(o, {5, 0, 0, 0x12, 0x34}).reason ==
          "coil value 0x1234 is neither 0x0000 nor 0xFF00");
    CHECK(outcome(o, {5, 0, 0, 0, 0}) == "allow");
  }
}

TEST_CASE("requests decode to addresses, quantities and values") {
  auto r =
      decodeRequest(writeCoilsPdu(20, {true, false, true, true, false, false, false, false, true}));
  CHECK_FALSE(r.malformed);
  CHECK(r.write == AddressBlock{20, 9});
  CHECK(r.values == std::vector<std::uint16_t>{1, 0, 1, 1, 0, 0, 0, 0, 1});
  r = decodeRequest(Bytes{23, 0, 1, 0, 2, 0, 3, 0, 1, 2, 0xab, 0xcd});
  CHECK(r.read == AddressBlock{1, 2});
  CHECK(r.write == AddressBlock{3, 1});
  CHECK(r.values == std::vector<std::uint16_t>{0xabcd});
  r = decodeRequest(Bytes{22, 0, 4, 0x00, 0xf2, 0x00, 0x25});
  CHECK(r.write == AddressBlock{4, 1});
  CHECK(r.values == std::vector<std::uint16_t>{0xf2, 0x25});
  r = decodeRequest(Bytes{8, 0, 4, 0, 0});
  CHECK(r.subFunction == 4);
  CHECK(changesState(r));
  r = decodeRequest(Bytes{43, 14, 1, 0});
  CHECK(r.subFunction == 14);
  CHECK_FALSE(changesState(r));
}

TEST_CASE("exception frames are 9 bytes: same transaction and unit, function | 0x80, code") {
  const auto f = exceptionFrame(0x0102, 7, 6, ExceptionCode::illegal_data_address);
  CHECK(Bytes(f.begin(), f.end()) == Bytes{0x01, 0x02, 0, 0, 0, 3, 7, 0x86, 0x02});
  const auto g = exceptionFrame(0xffff, 255, 0x5a, ExceptionCode::gateway_target_failed);
  CHECK(Bytes(g.begin(), g.end()) == Bytes{0xff, 0xff, 0, 0, 0, 3, 255, 0xda, 0x0b});
}
