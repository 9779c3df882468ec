#include <catch2/catch.hpp>

#include "conduit/recorder/record.hpp"

using namespace conduit::recorder;

TEST_CASE("resize payload round trips and rejects wrong sizes") {
  const auto p = encodeResize({132, 43});
  REQUIRE(p.size() == 8);
  CHECK(decodeResize(p) == TerminalSize{132, 43});
  CHECK_FALSE(decodeResize(std::vector<unsigned char>(7)).has_value());
}

TEST_CASE("tunnel payload carries the 4-tuple in front of raw bytes") {
  const auto t = ipv4Tuple("10.0.0.5", 40001, "10.0.0.17", 502);
  REQUIRE(t.has_value());
  const std::vector<unsigned char> bytes{0, 1, 0, 0, 0, 6, 1, 3, 0, 16, 0, 2};
  const auto payload = encodeTunnelBytes(*t, bytes);
  CHECK(payload.size() == 13 + bytes.size());
  CHECK(payload[0] == 4);
  const auto chunk = decodeTunnelBytes(payload);
  REQUIRE(chunk.has_value());
  CHECK(chunk->tuple == *t);
  CHECK(std::vector<unsigned char>(chunk->bytes.begin(), chunk->bytes.end()) == bytes);

  TcpFourTuple v6;
  v6.ipv6 = true;
  v6.clientAddress[15] = 1;
  v6.targetAddress[0] = 0xfd;
  v6.clientPort = 1;
  v6.targetPort = 2;
  const auto p6 = encodeTunnelBytes(v6, bytes);
  CHECK(p6.size() == 37 + bytes.size());
  CHECK(decodeTunnelBytes(p6)->tuple == v6);

  CHECK_FALSE(decodeTunnelBytes(std::vector<unsigned char>{5, 1, 2}).has_value());
  CHECK_FALSE(decodeTunnelBytes(std::vector<unsigned char>{4, 1, 2}).has_value());
  CHECK_FALSE(ipv4Tuple("not-an-ip", 1, "10.0.0.1", 2).has_value());
}

TEST_CASE("file transfer, protocol event and RDP tile payloads round trip") {
  const FileTransferEvent f{FileOperation::rename, 0, "/etc/plc.conf", "/etc/plc.conf.bak", ""};
  CHECK(decodeFileTransfer(encodeFileTransfer(f)) == f);
  const FileTransferEvent up{FileOperation::upload, 1u << 30, "firmware.bin", "",
                             std::string(64, 'e')};
  CHECK(decodeFileTransfer(encodeFileTransfer(up)) == up);
  const FileTransferEvent link{FileOperation::link, 0, "/opt/link", "to /opt/real", ""};
  CHECK(decodeFileTransfer(encodeFileTransfer(link)) == link);
  const FileTransferEvent printed{FileOperation::print, 4096, "printer/print-1.pdf", "",
                                  std::string(64, 'a')};
  CHECK(decodeFileTransfer(encodeFileTransfer(printed)) == printed);
  CHECK(fileOperationName(FileOperation::print) == "print");
  auto unknown = encodeFileTransfer(printed);
  unknown[0] = 9;  // no such operation
  CHECK_FALSE(decodeFileTransfer(unknown).has_value());
  // A hash that is not 64 lowercase hex digits is not a SHA-256: refused on reading.
  auto upper = encodeFileTransfer(up);
  upper.back() = 'E';
  CHECK_FALSE(decodeFileTransfer(upper).has_value());
  // Written before events carried a SHA-256: no length byte at the end; still read.
  auto old = encodeFileTransfer(f);
  old.pop_back();
  CHECK(decodeFileTransfer(old) == f);
  auto cut = encodeFileTransfer(f);
  cut.resize(cut.size() - 2);  // into the detail
  CHECK_FALSE(decodeFileTransfer(cut).has_value());
  auto extra = encodeFileTransfer(f);
  extra.push_back(0);
  CHECK_FALSE(decodeFileTransfer(extra).has_value());

  const ProtocolEvent e{"modbus", "deny", "write single register 1 = 4242 unit 1"};
  CHECK(decodeProtocolEvent(encodeProtocolEvent(e)) == e);
  CHECK_FALSE(decodeProtocolEvent(std::vector<unsigned char>{9, 'a'}).has_value());

  const RdpTile tile{64, 32, 2, 1, 0x20, {1, 2, 3, 4, 5, 6, 7, 8}};
  CHECK(decodeRdpTile(encodeRdpTile(tile)) == tile);
  CHECK_FALSE(decodeRdpTile(std::vector<unsigned char>(11)).has_value());
}

TEST_CASE("kind and direction names are stable and unknown bytes are refused") {
  CHECK(recordKindName(RecordKind::tunnel_bytes) == "tunnel_bytes");
  CHECK(recordKindName(RecordKind::rdp_update) == "rdp_update");
  CHECK(directionName(Direction::to_target) == "to_target");
  CHECK(recordKindFromByte(9) == RecordKind::marker);
  CHECK_FALSE(recordKindFromByte(0).has_value());
  CHECK_FALSE(recordKindFromByte(10).has_value());
  CHECK_FALSE(directionFromByte(4).has_value());
}

TEST_CASE("the live view's file message carries every field, escaped") {
  const FileTransferEvent e{FileOperation::download, 20971520, "/opt/plc/\"fw\"\\v2.bin",
                            "line\nbreak", std::string(64, 'a')};
  CHECK(liveFileJson(e) ==
        R"({"type":"file","operation":"download","path":"/opt/plc/\"fw\"\\v2.bin",)"
        R"("size":20971520,"sha256":")" +
            std::string(64, 'a') + R"(","detail":"line\nbreak"})");
  CHECK(liveFileJson({FileOperation::make_directory, 0, "/tmp/x", "", ""}) ==
        R"({"type":"file","operation":"make_directory","path":"/tmp/x","size":0,"sha256":"",)"
        R"("detail":""})");
}
