// The inspector's exception responses and the requests it judged, as the client's side of the
// connection carries them, decode in Wireshark's own Modbus/TCP dissector with the expected
// transaction ids, function codes and exception codes.
#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "conduit/tunnel/modbus_inspector.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "tunnel/modbus_frames.hpp"

using namespace conduit;
using namespace conduit::tunnel;
using namespace conduit::tunnel::testing;
using conduit::test::runCommand;
using conduit::test::TempDir;

namespace {

constexpr std::uint16_t kClientPort = 40001;
constexpr std::uint16_t kServerPort = 1502;

void put16(Bytes& b, std::uint16_t v) {
  b.push_back(hi(v));
  b.push_back(lo(v));
}
void put32(Bytes& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v & 0xffff));
}
void put32Le(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>((v >> (8 * i)) & 0xff));
}

// A classic pcap of one TCP conversation, client 10.0.0.5 and broker 10.0.0.17, with
// synthesised Ethernet, IPv4 and TCP headers (checksums left 0: tshark does not verify them by
// default).
class Pcap {
 public:
  Pcap() {
    put32Le(file_, 0xa1b2c3d4);
    file_.insert(file_.end(), {2, 0, 4, 0});  // version 2.4, little-endian
    put32Le(file_, 0);
    put32Le(file_, 0);
    put32Le(file_, 65535);
    put32Le(file_, 1);  // LINKTYPE_ETHERNET
  }

  void segment(bool fromClient, const Bytes& data) {
    if (data.empty()) return;
    Bytes tcp;
    put16(tcp, fromClient ? kClientPort : kServerPort);
    put16(tcp, fromClient ? kServerPort : kClientPort);
    put32(tcp, fromClient ? clientSeq_ : serverSeq_);
    put32(tcp, fromClient ? serverSeq_ : clientSeq_);
    tcp.insert(tcp.end(), {0x50, 0x18});  // 20-byte header; PSH, ACK
    put16(tcp, 65535);
    put16(tcp, 0);
    put16(tcp, 0);
    tcp.insert(tcp.end(), data.begin(), data.end());
    (fromClient ? clientSeq_ : serverSeq_) += static_cast<std::uint32_t>(data.size());

    Bytes f = {2, 0, 0, 0, 0, static_cast<std::uint8_t>(fromClient ? 2 : 1),
               2, 0, 0, 0, 0, static_cast<std::uint8_t>(fromClient ? 1 : 2)};
    put16(f, 0x0800);
    f.insert(f.end(), {0x45, 0});
    put16(f, static_cast<std::uint16_t>(20 + tcp.size()));
    put16(f, ++ipId_);
    put16(f, 0x4000);
    f.insert(f.end(), {64, 6, 0, 0});
    const Bytes client = {10, 0, 0, 5};
    const Bytes broker = {10, 0, 0, 17};
    f.insert(f.end(), (fromClient ? client : broker).begin(), (fromClient ? client : broker).end());
    f.insert(f.end(), (fromClient ? broker : client).begin(), (fromClient ? broker : client).end());
    f.insert(f.end(), tcp.begin(), tcp.end());

    put32Le(file_, 1'700'000'000);
    put32Le(file_, ++microseconds_);
    put32Le(file_, static_cast<std::uint32_t>(f.size()));
    put32Le(file_, static_cast<std::uint32_t>(f.size()));
    file_.insert(file_.end(), f.begin(), f.end());
  }

  void save(const std::filesystem::path& path) const {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(file_.data()),
               static_cast<std::streamsize>(file_.size()));
  }

 private:
  Bytes file_;
  std::uint32_t clientSeq_ = 1000;
  std::uint32_t serverSeq_ = 5000;
  std::uint16_t ipId_ = 0;
  std::uint32_t microseconds_ = 0;
};

// runCommand merges stderr; tshark warns there when run as root.
std::string withoutRootWarning(std::string s) {
  const std::string warning =
      "Running as user \"root\" and group \"root\". This could be dangerous.";
  for (auto at = s.find(warning); at != std::string::npos; at = s.find(warning)) {
    s.erase(at, warning.size() + (at + warning.size() < s.size() ? 1 : 0));
  }
  return s;
}

}  // namespace

TEST_CASE("tshark decodes the client's side of an inspected connection") {
  REQUIRE(runCommand({"sh", "-c", "command -v tshark"}).first == 0);  // scripts/deps.sh
  core::ModbusOptions o;
  o.readOnly = false;
  o.writes = core::WriteMode::approve;
  o.functionCodes = {3, 6, 16};
  o.unitIds = {1};
  o.ranges = {{0, 99}};
  ModbusInspector insp(o);
  Pcap pcap;
  // The client's requests as sent, and whatever the broker sends it back.
  auto client = [&](const Bytes& request, Instant now) {
    pcap.segment(true, request);
    auto out = insp.onClient(request, now);
    pcap.segment(false, out.toClient);
    return out;
  };
  auto server = [&](const Bytes& response, Instant now) {
    const auto out = insp.onServer(response, now);
    pcap.segment(false, out.toClient);
  };

  auto out = client(frame(1, 1, readPdu(3, 10, 2)), at(0));  // allowed
  server(frame(1, 1, {3, 4, 0x12, 0x34, 0xab, 0xcd}), at(0));
  (void)client(frame(2, 1, readPdu(4, 0, 1)), at(1));        // not listed: 01
  (void)client(frame(3, 1, readPdu(3, 100, 1)), at(2));      // out of range: 02
  (void)client(frame(4, 1, readPdu(3, 0, 126)), at(3));      // quantity: 03
  (void)client(frame(5, 2, writeRegisterPdu(5, 7)), at(4));  // unit 2: 02
  out = client(frame(6, 1, writeRegisterPdu(5, 7)), at(5));  // held ...
  REQUIRE(out.held.size() == 1);
  const auto approved = insp.resolveHold(out.held[0].id, true, at(6));  // ... approved
  REQUIRE(approved.ok());
  REQUIRE(approved->toServer == frame(6, 1, writeRegisterPdu(5, 7)));
  server(frame(6, 1, writeRegisterPdu(5, 7)), at(7));              // echoed by the PLC
  out = client(frame(7, 1, writeRegistersPdu(0, {1, 2})), at(8));  // held ...
  pcap.segment(false, insp.tick(at(8 + 120)).toClient);            // ... timed out: 0B

  TempDir dir;
  const auto file = dir / "inspected.pcap";
  pcap.save(file);
  const auto [code, raw] = runCommand({"tshark",
                                       "-r",
                                       file.string(),
                                       "-d",
                                       "tcp.port==" + std::to_string(kServerPort) + ",mbtcp",
                                       "-o",
                                       "mbtcp.tcp.port:" + std::to_string(kServerPort),
                                       "-Y",
                                       "mbtcp",
                                       "-T",
                                       "fields",
                                       "-E",
                                       "separator=;",
                                       "-e",
                                       "tcp.srcport",
                                       "-e",
                                       "mbtcp.trans_id",
                                       "-e",
                                       "modbus.func_code",
                                       "-e",
                                       "modbus.exception_code"});
  const auto fields = withoutRootWarning(raw);
  INFO(fields);
  REQUIRE(code == 0);
  CHECK(fields ==
        "40001;1;3;\n"      // read holding registers 10..11
        "1502;1;3;\n"       // the PLC's answer, forwarded
        "40001;2;4;\n"      // read input registers: not in the grant
        "1502;2;4;1\n"      // illegal function
        "40001;3;3;\n"      // register 100: outside 0-99
        "1502;3;3;2\n"      // illegal data address
        "40001;4;3;\n"      // 126 registers
        "1502;4;3;3\n"      // illegal data value
        "40001;5;6;\n"      // unit 2
        "1502;5;6;2\n"      // illegal data address
        "40001;6;6;\n"      // write held, approved
        "1502;6;6;\n"       // the PLC's echo
        "40001;7;16;\n"     // write held, nobody decided
        "1502;7;16;11\n");  // gateway target device failed to respond
}
