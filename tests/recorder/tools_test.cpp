// Exports checked by the real tools auditors use: asciinema plays the .cast, tshark decodes the
// .pcap as Modbus/TCP.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "conduit/recorder/export.hpp"
#include "conduit/recorder/writer.hpp"
#include "recorder/fixtures.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace conduit::recorder;
using namespace conduit::recorder::testing;
using conduit::test::runCommand;
using conduit::test::TempDir;

namespace {
bool have(const std::string& tool) {
  return runCommand({"sh", "-c", "command -v " + tool}).first == 0;
}

// asciinema with its own configuration directory under `dir`: asciinema creates one on its
// first run, and two first runs at once (ctest -j2 on a fresh machine) race on creating it and
// one fails with FileExistsError (seen: 9 of 40 pairs of first runs).
std::string asciinemaIn(const TempDir& dir) {
  return "ASCIINEMA_CONFIG_HOME=" + (dir / "asciinema").string() + " asciinema";
}
std::vector<std::string> asciinemaPlay(const TempDir& dir, const std::filesystem::path& cast) {
  return {"sh", "-c", asciinemaIn(dir) + " play -s 10 '" + cast.string() + "'"};
}

// runCommand merges stderr; tshark and asciinema warn there when run as root.
std::string withoutRootWarning(std::string s) {
  const std::string warning =
      "Running as user \"root\" and group \"root\". This could be dangerous.";
  for (auto at = s.find(warning); at != std::string::npos; at = s.find(warning)) {
    s.erase(at, warning.size() + (at + warning.size() < s.size() ? 1 : 0));
  }
  return s;
}
}  // namespace

TEST_CASE("asciinema plays the exported cast with the recorded text") {
  REQUIRE(have("asciinema"));  // installed by scripts/deps.sh
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "s.crec";
  {
    auto w = RecordingWriter::create({.file = file, .sessionId = "sess-cast"}, vault);
    REQUIRE(w.ok());
    auto put = [&](std::uint64_t t, RecordKind k, std::vector<unsigned char> p) {
      REQUIRE((*w)->append(Record{t, 0, Direction::to_client, k, std::move(p)}).ok());
    };
    put(0, RecordKind::resize, encodeResize({100, 30}));
    put(50'000, RecordKind::terminal_output, bytesOf("\x1b[1;32mplc-17\x1b[0m:~$ "));
    put(100'000, RecordKind::terminal_input, bytesOf("cat /etc/motd\r"));
    put(150'000, RecordKind::terminal_output, bytesOf("cat /etc/motd\r\nWelcome to the "));
    put(200'000, RecordKind::terminal_output, bytesOf("pump station \xc3"));
    put(250'000, RecordKind::terminal_output, bytesOf("\xa4 controller\r\n"));
    REQUIRE((*w)->close(*broker.signer).ok());
  }
  const auto cast = dir / "s.cast";
  {
    RecordingReader reader(file, keyList(vault));
    std::ofstream out(cast);
    const auto summary = exportAsciicast(reader, out);
    REQUIRE(summary.source.verdict == Verdict::intact);
  }
  const auto [code, output] = runCommand(asciinemaPlay(dir, cast));
  INFO(output);
  CHECK(code == 0);
  CHECK(output.find("plc-17") != std::string::npos);
  CHECK(output.find("Welcome to the pump station \xc3\xa4 controller") != std::string::npos);

  const auto [catCode, catOutput] = runCommand(
      {"script", "-qec", asciinemaIn(dir) + " cat '" + cast.string() + "'", "/dev/null"});
  INFO(catOutput);
  CHECK(catCode == 0);
  CHECK(catOutput.find("Welcome to the pump station") != std::string::npos);
}

TEST_CASE("asciinema plays a cast exported from a time, starting on the screen shown then") {
  REQUIRE(have("asciinema"));
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "s.crec";
  {
    auto w = RecordingWriter::create({.file = file, .sessionId = "sess-from"}, vault);
    REQUIRE(w.ok());
    auto put = [&](std::uint64_t t, RecordKind k, std::vector<unsigned char> p) {
      REQUIRE((*w)->append(Record{t, 0, Direction::to_client, k, std::move(p)}).ok());
    };
    put(0, RecordKind::resize, encodeResize({80, 24}));
    put(10'000, RecordKind::terminal_output, bytesOf("plc:~$ cat /etc/motd\r\nearly-line\r\n"));
    put(20'000, RecordKind::terminal_output, bytesOf("\x1b[H\x1b[2Jscreen-before-t\r\nplc:~$ "));
    put(3'000'000, RecordKind::terminal_output, bytesOf("after-t\r\n"));
    REQUIRE((*w)->close(*broker.signer).ok());
  }
  const auto cast = dir / "from.cast";
  {
    RecordingReader reader(file, keyList(vault));
    std::ofstream out(cast);
    AsciicastOptions options;
    options.fromUs = 2'000'000;
    REQUIRE(exportAsciicast(reader, out, options).source.verdict == Verdict::intact);
  }
  const auto [code, output] = runCommand(asciinemaPlay(dir, cast));
  INFO(output);
  CHECK(code == 0);
  CHECK(output.find("screen-before-t") != std::string::npos);
  CHECK(output.find("after-t") != std::string::npos);
  CHECK(output.find("early-line") == std::string::npos);  // cleared before t
}

TEST_CASE("tshark decodes the exported pcap as Modbus/TCP with the recorded fields") {
  REQUIRE(have("tshark"));  // installed by scripts/deps.sh
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "t.crec";
  const auto tuple = *ipv4Tuple("10.0.0.5", 40001, "10.0.0.17", 1502);
  {
    auto w = RecordingWriter::create({.file = file, .sessionId = "sess-pcap"}, vault);
    REQUIRE(w.ok());
    auto put = [&](std::uint64_t t, Direction d, std::vector<unsigned char> b) {
      REQUIRE((*w)->append(Record{t, 4, d, RecordKind::tunnel_bytes, encodeTunnelBytes(tuple, b)})
                  .ok());
    };
    // Read holding registers: 2 registers from address 16; reply 0x1234, 0xabcd.
    put(10'000, Direction::to_target, {0x00, 0x01, 0, 0, 0, 6, 1, 0x03, 0x00, 0x10, 0x00, 0x02});
    put(20'000, Direction::to_client, {0x00, 0x01, 0, 0, 0, 7, 1, 0x03, 4, 0x12, 0x34, 0xab, 0xcd});
    // Write single register 1 = 4242, echoed back.
    put(30'000, Direction::to_target, {0x00, 0x02, 0, 0, 0, 6, 1, 0x06, 0x00, 0x01, 0x10, 0x92});
    put(40'000, Direction::to_client, {0x00, 0x02, 0, 0, 0, 6, 1, 0x06, 0x00, 0x01, 0x10, 0x92});
    REQUIRE((*w)->append(Record{45'000, 4, Direction::to_target, RecordKind::protocol_event,
                                encodeProtocolEvent({"modbus", "allow", "write 1"})})
                .ok());
    REQUIRE((*w)->close(*broker.signer).ok());
  }
  const auto pcap = dir / "t.pcap";
  {
    RecordingReader reader(file, keyList(vault));
    std::ofstream out(pcap, std::ios::binary);
    const auto summary = exportPcap(reader, out);
    REQUIRE(summary.source.verdict == Verdict::intact);
    CHECK(summary.recordsWritten == 4);
    CHECK(summary.recordsSkipped == 1);
  }
  // Wireshark classifies Modbus/TCP queries and responses by its port preference; "-d
  // tcp.port==1502,mbtcp" alone decodes only the function codes.
  const std::vector<std::string> fieldsCommand{"tshark",
                                               "-r",
                                               pcap.string(),
                                               "-o",
                                               "mbtcp.tcp.port:1502",
                                               "-Y",
                                               "modbus",
                                               "-T",
                                               "fields",
                                               "-E",
                                               "separator=;",
                                               "-e",
                                               "ip.src",
                                               "-e",
                                               "modbus.func_code",
                                               "-e",
                                               "modbus.reference_num",
                                               "-e",
                                               "modbus.word_cnt",
                                               "-e",
                                               "modbus.regval_uint16",
                                               "-e",
                                               "modbus.data"};
  const auto [code, fieldsRaw] = runCommand(fieldsCommand);
  const auto fields = withoutRootWarning(fieldsRaw);
  INFO(fields);
  REQUIRE(code == 0);
  CHECK(fields ==
        "10.0.0.5;3;16;2;;\n"          // read 2 holding registers from 16
        "10.0.0.17;3;;;4660,43981;\n"  // 0x1234, 0xabcd
        "10.0.0.5;6;1;;;1092\n"        // write register 1 = 0x1092 (4242)
        "10.0.0.17;6;1;;;1092\n");

  const auto [vcode, verbose] = runCommand({"tshark", "-r", pcap.string(), "-V", "-d",
                                            "tcp.port==1502,mbtcp", "-o", "mbtcp.tcp.port:1502"});
  INFO(verbose);
  CHECK(vcode == 0);
  CHECK(verbose.find("Modbus/TCP") != std::string::npos);
  CHECK(verbose.find("Read Holding Registers (3)") != std::string::npos);
  CHECK(verbose.find("Write Single Register (6)") != std::string::npos);
  const auto [scode, summaryText] = runCommand({"tshark", "-r", pcap.string()});
  INFO(summaryText);
  CHECK(summaryText.find("[SYN]") != std::string::npos);
  CHECK(summaryText.find("[SYN, ACK]") != std::string::npos);
  CHECK(summaryText.find("[FIN, ACK]") != std::string::npos);
  // Valid checksums: tshark flags bad ones only when asked to check them.
  const auto [ccode, checked] = runCommand(
      {"tshark", "-r", pcap.string(), "-o", "ip.check_checksum:TRUE", "-o",
       "tcp.check_checksum:TRUE", "-Y", "ip.checksum.status==0 || tcp.checksum.status==0"});
  CHECK(ccode == 0);
  CHECK(withoutRootWarning(checked).empty());
}

TEST_CASE("the manifest's file digest is what b2sum computes") {
  REQUIRE(have("b2sum"));
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "b.crec";
  auto w = RecordingWriter::create({.file = file, .sessionId = "sess-b2"}, vault);
  REQUIRE(w.ok());
  REQUIRE((*w)->append(RecordKind::marker, 0, Direction::none, bytesOf("digest me")).ok());
  auto m = (*w)->close(*broker.signer);
  REQUIRE(m.ok());
  const auto [code, out] = runCommand({"b2sum", "-l", "256", file.string()});
  REQUIRE(code == 0);
  CHECK(out.substr(0, 64) == toHex(m->fileBlake2b));
}

TEST_CASE("tshark reads IPv6 tunnels and large transfers from the exported pcap") {
  REQUIRE(have("tshark"));
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "v6.crec";
  TcpFourTuple v6;
  v6.ipv6 = true;
  v6.clientAddress = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  v6.targetAddress = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  v6.clientPort = 41000;
  v6.targetPort = 502;
  const auto bulk = randomBytes(100'000);  // several segments of at most 32,000 bytes
  {
    auto w = RecordingWriter::create({.file = file, .sessionId = "sess-v6"}, vault);
    REQUIRE(w.ok());
    REQUIRE((*w)->appendTunnelBytes(9, Direction::to_target, v6,
                                    std::vector<unsigned char>{0, 7, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1})
                .ok());
    REQUIRE((*w)->appendTunnelBytes(9, Direction::to_client, v6, bulk).ok());
    REQUIRE((*w)->close(*broker.signer).ok());
  }
  const auto pcap = dir / "v6.pcap";
  {
    RecordingReader reader(file, keyList(vault));
    std::ofstream out(pcap, std::ios::binary);
    exportPcap(reader, out);
  }
  const auto [code, raw] =
      runCommand({"tshark", "-r", pcap.string(), "-o", "tcp.check_checksum:TRUE", "-T", "fields",
                  "-E", "separator=;", "-e", "ipv6.src", "-e", "tcp.len", "-e",
                  "tcp.checksum.status", "-e", "modbus.func_code"});
  const auto out = withoutRootWarning(raw);
  INFO(out);
  REQUIRE(code == 0);
  CHECK(out.find("fd00::1;12;1;3") != std::string::npos);  // Modbus on 502, checksum good
  CHECK(out.find("fd00::2;32000;1") != std::string::npos);
  CHECK(out.find("fd00::2;4000;1") != std::string::npos);  // 100,000 = 3 x 32,000 + 4,000
  std::istringstream lines(out);
  int packets = 0;
  for (std::string line; std::getline(lines, line); ++packets) {
    const auto first = line.find(';');
    const auto second = line.find(';', first + 1);
    INFO(line);
    CHECK(line.substr(second + 1, 1) == "1");  // tcp.checksum.status: good
  }
  CHECK(packets == 11);  // handshake 3 + data 5 + close 3
}
