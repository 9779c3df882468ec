// An inspected S7 connection, recorded the way the relay records it and exported with the
// recorder's pcap export, decodes in Wireshark's own s7comm dissector (TCP port 102 by default)
// with the expected messages, function codes, PDU references and error codes: the vendor's leg
// shows the refused requests and the broker's refusals, the PLC's leg never shows them.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "conduit/recorder/export.hpp"
#include "conduit/recorder/writer.hpp"
#include "conduit/tunnel/s7_tunnel.hpp"
#include "recorder/fixtures.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "tunnel/s7_frames.hpp"

using namespace conduit;
using namespace conduit::recorder;
using namespace conduit::recorder::testing;
using namespace conduit::tunnel;
using namespace conduit::tunnel::s7testing;
using conduit::test::runCommand;
using conduit::test::TempDir;

namespace {

// runCommand merges stderr; tshark warns there when run as root.
std::string withoutRootWarning(std::string s) {
  const std::string warning =
      "Running as user \"root\" and group \"root\". This could be dangerous.";
  for (auto at = s.find(warning); at != std::string::npos; at = s.find(warning)) {
    s.erase(at, warning.size() + (at + warning.size() < s.size() ? 1 : 0));
  }
  return s;
}

std::string tshark(const std::filesystem::path& pcap, std::vector<std::string> args) {
  std::vector<std::string> command = {"tshark", "-r", pcap.string()};
  command.insert(command.end(), args.begin(), args.end());
  const auto [code, raw] = runCommand(command);
  const auto out = withoutRootWarning(raw);
  INFO(out);
  REQUIRE(code == 0);
  return out;
}

}  // namespace

TEST_CASE("tshark's s7comm dissector decodes an inspected connection from the pcap export") {
  REQUIRE(runCommand({"sh", "-c", "command -v tshark"}).first == 0);  // scripts/deps.sh
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "s7.crec";
  // The vendor's leg (client -> broker) and the PLC's leg (broker -> PLC), both on port 102.
  const auto vendorLeg = *ipv4Tuple("10.0.0.5", 40001, "10.0.0.17", 102);
  const auto plcLeg = *ipv4Tuple("10.0.0.17", 40002, "10.0.0.30", 102);
  {
    auto w = RecordingWriter::create({.file = file, .sessionId = "sess-s7"}, vault);
    REQUIRE(w.ok());
    std::uint64_t t = 0;
    auto bytes = [&](std::uint32_t channel, const TcpFourTuple& tuple, Direction d,
                     const std::vector<unsigned char>& b) {
      if (b.empty()) return;
      t += 1000;
      REQUIRE(
          (*w)->append(Record{t, channel, d, RecordKind::tunnel_bytes, encodeTunnelBytes(tuple, b)})
              .ok());
    };
    auto record = [&](const TunnelVerdict& v) {
      bytes(2, plcLeg, Direction::to_target, v.toTarget);
      bytes(1, vendorLeg, Direction::to_client, v.toClient);
      for (const auto& e : v.events) {
        REQUIRE((*w)->append(Record{t, 1, Direction::none, RecordKind::protocol_event,
                                    encodeProtocolEvent({e.protocol, e.decision, e.summary})})
                    .ok());
      }
      REQUIRE_FALSE(v.close);
    };
    S7TunnelInspector insp(readOnly());
    TunnelInspector::TimePoint now{std::chrono::seconds{1'700'000'000}};
    auto client = [&](const Bytes& b) {
      bytes(1, vendorLeg, Direction::to_target, b);
      record(insp.onClientBytes(b, now));
    };
    auto plc = [&](const Bytes& b) {
      bytes(2, plcLeg, Direction::to_client, b);
      record(insp.onServerBytes(b, now));
    };

    client(connectRequest());
    plc(connectConfirm());
    client(dt(job(1, setupParam(480))));
    plc(dt(ackData(1, setupParam(240))));
    client(dt(job(2, varParam(0x04, {anyItem(0x84, 1, 0, 2, 4)}))));
    plc(dt(ackData(2, {0x04, 1}, byteData({1, 2, 3, 4}, 0xff))));
    client(dt(job(3, varParam(0x05, {anyItem(0x84, 1, 0, 2, 2)}), byteData({0x12, 0x34}))));
    client(dt(job(
        4, join({{0x29, 0, 0, 0, 0, 0, 9}, Bytes{'P', '_', 'P', 'R', 'O', 'G', 'R', 'A', 'M'}}))));
    client(dt(userdata(5, 4, 4, 1, {0xff, 9, 0, 4, 0, 0x11, 0, 0})));
    // SZL 0x0011 (module identification), index 0: 28-byte entries, none in this answer.
    plc(dt(userdata(5, 8, 4, 1, {0xff, 9, 0, 8, 0, 0x11, 0, 0, 0, 0x1c, 0, 0})));
    client(
        dt(userdata(6, 4, 7, 2, {0xff, 9, 0, 10, 0, 0x19, 5, 8, 0x23, 4, 0x10, 0x23, 0x67, 0x83})));
    REQUIRE((*w)->close(*broker.signer).ok());
  }
  const auto pcap = dir / "s7.pcap";
  {
    RecordingReader reader(file, keyList(vault));
    std::ofstream out(pcap, std::ios::binary);
    const auto summary = exportPcap(reader, out);
    REQUIRE(summary.source.verdict == Verdict::intact);
  }

  // COTP: the connect request (called TSAP 01 02: rack 0, slot 2) and the confirm, on both legs.
  CHECK(tshark(pcap,
               {"-Y", "cotp.type == 0x0e || cotp.type == 0x0d", "-T", "fields", "-E", "separator=;",
                "-e", "ip.src", "-e", "ip.dst", "-e", "cotp.type", "-e", "cotp.dst-tsap-bytes"}) ==
        "10.0.0.5;10.0.0.17;0x0e;0102\n"
        "10.0.0.17;10.0.0.30;0x0e;0102\n"
        "10.0.0.30;10.0.0.17;0x0d;0102\n"
        "10.0.0.17;10.0.0.5;0x0d;0102\n");

  // S7: ROSCTR, PDU reference, function and error code of every message, on both legs.
  CHECK(tshark(pcap, {"-Y", "s7comm",
                      "-T", "fields",
                      "-E", "separator=;",
                      "-e", "ip.src",
                      "-e", "ip.dst",
                      "-e", "s7comm.header.rosctr",
                      "-e", "s7comm.header.pduref",
                      "-e", "s7comm.param.func",
                      "-e", "s7comm.param.userdata.funcgroup",
                      "-e", "s7comm.param.userdata.subfunc",
                      "-e", "s7comm.param.errcod"}) ==
        // setup communication (0xF0) passes both ways on both legs
        "10.0.0.5;10.0.0.17;1;1;0xf0;;;\n"
        "10.0.0.17;10.0.0.30;1;1;0xf0;;;\n"
        "10.0.0.30;10.0.0.17;3;1;0xf0;;;\n"
        "10.0.0.17;10.0.0.5;3;1;0xf0;;;\n"
        // read var (0x04): the job reaches the PLC, its ack_data the vendor
        "10.0.0.5;10.0.0.17;1;2;0x04;;;\n"
        "10.0.0.17;10.0.0.30;1;2;0x04;;;\n"
        "10.0.0.30;10.0.0.17;3;2;0x04;;;\n"
        "10.0.0.17;10.0.0.5;3;2;0x04;;;\n"
        // write var (0x05) and PLC stop (0x29): the broker answers 0xD241; the PLC's leg
        // has neither
        "10.0.0.5;10.0.0.17;1;3;0x05;;;\n"
        "10.0.0.17;10.0.0.5;3;3;0x05;;;0xd241\n"
        "10.0.0.5;10.0.0.17;1;4;0x29;;;\n"
        "10.0.0.17;10.0.0.5;3;4;0x29;;;0xd241\n"
        // userdata read SZL (group 4, subfunction 1) passes
        "10.0.0.5;10.0.0.17;7;5;;4;1;\n"
        "10.0.0.17;10.0.0.30;7;5;;4;1;\n"
        "10.0.0.30;10.0.0.17;7;5;;4;1;0x0000\n"
        "10.0.0.17;10.0.0.5;7;5;;4;1;0x0000\n"
        // userdata set clock (group 7, subfunction 2): refused with 0xD241
        "10.0.0.5;10.0.0.17;7;6;;7;2;\n"
        "10.0.0.17;10.0.0.5;7;6;;7;2;0xd241\n");

  // And as Wireshark words it.
  const auto info = tshark(pcap, {"-Y", "s7comm", "-T", "fields", "-e", "_ws.col.Info"});
  CHECK_THAT(info, Catch::Contains("Function:[Setup communication]"));
  CHECK_THAT(info, Catch::Contains("Function:[Read Var]"));
  CHECK_THAT(info, Catch::Contains("Function:[Write Var]\n"));  // the vendor's request
  CHECK_THAT(info, Catch::Contains("Function:[Write Var] -> Errorcode:[0xd241]"));
  CHECK_THAT(info, Catch::Contains("Function:[PLC Stop] -> Errorcode:[0xd241]"));
  CHECK_THAT(info, Catch::Contains("[CPU functions] -> [Read SZL]"));
  CHECK_THAT(info, Catch::Contains("[Time functions] -> [Set clock] -> Errorcode:[0xd241]"));
  CHECK_THAT(info, !Catch::Contains("Malformed"));
  const auto verbose = tshark(pcap, {"-V", "-Y", "s7comm.param.errcod == 0xd241"});
  CHECK_THAT(verbose,
             Catch::Contains("The function is not permitted in the current protection level"));
}
