// The sftp observer: packets built to draft-ietf-secsh-filexfer-02 (version 3), fed as the
// gateway feeds them (requests first, any split), and the file events it reports. The real
// OpenSSH sftp and scp clients are in tests/ssh/integration/gateway_test.cpp.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "conduit/ssh/sftp_observer.hpp"
#include "ssh/observer_support.hpp"

using conduit::recorder::FileOperation;
using conduit::ssh::SftpObserver;

using conduit::test::bytes;
using conduit::test::Packet;
using conduit::test::sha256;

namespace {

std::string open(std::uint32_t id, const std::string& path, std::uint32_t flags) {
  return Packet().u8(3).u32(id).str(path).u32(flags).u32(0).wire();  // empty attrs
}
std::string handle(std::uint32_t id, const std::string& h) {
  return Packet().u8(102).u32(id).str(h).wire();
}
std::string status(std::uint32_t id, std::uint32_t code, const std::string& message = "") {
  return Packet().u8(101).u32(id).u32(code).str(message).str("").wire();
}
std::string write(std::uint32_t id, const std::string& h, std::uint64_t offset,
                  const std::string& data) {
  return Packet().u8(6).u32(id).str(h).u64(offset).str(data).wire();
}
std::string read(std::uint32_t id, const std::string& h, std::uint64_t offset) {
  return Packet().u8(5).u32(id).str(h).u64(offset).u32(32768).wire();
}
std::string data(std::uint32_t id, const std::string& d) {
  return Packet().u8(103).u32(id).str(d).wire();
}
std::string close(std::uint32_t id, const std::string& h) {
  return Packet().u8(4).u32(id).str(h).wire();
}

// Feeds a whole stream one byte at a time: framing must not depend on how TCP splits it.
void trickle(SftpObserver& o, const std::string& s, bool vendor, SftpObserver::Output& out) {
  for (const char c : s) {
    const std::string one(1, c);
    if (vendor) {
      o.fromVendor(bytes(one), out);
    } else {
      o.fromTarget(bytes(one), out);
    }
  }
}

}  // namespace

TEST_CASE("an upload is reported at close with its size and the SHA-256 of what was written") {
  SftpObserver o;
  SftpObserver::Output out;
  const std::string a(40000, 'a'), b = "tail of the firmware";
  o.fromVendor(bytes(Packet().u8(1).u32(3).wire()), out);  // INIT
  o.fromVendor(bytes(open(1, "/opt/plc/fw.bin", 0x02 | 0x08 | 0x10)), out);
  o.fromTarget(bytes(handle(1, "H1")), out);
  trickle(o, write(2, "H1", 0, a) + write(3, "H1", a.size(), b), true, out);
  o.fromTarget(bytes(status(2, 0) + status(3, 0)), out);
  CHECK(out.events.empty());
  o.fromVendor(bytes(close(4, "H1")), out);
  CHECK(out.events.empty());  // not before the target answered the close
  o.fromTarget(bytes(status(4, 0)), out);
  REQUIRE(out.events.size() == 1);
  const auto& e = out.events[0];
  CHECK(e.operation == FileOperation::upload);
  CHECK(e.path == "/opt/plc/fw.bin");
  CHECK(e.size == a.size() + b.size());
  CHECK(e.sha256 == sha256(a + b));
  CHECK(e.detail.empty());
  CHECK_FALSE(out.stopped);
}

TEST_CASE("a download is hashed from the target's answers, even when they come out of order") {
  SftpObserver o;
  SftpObserver::Output out;
  const std::string p1(32768, '1'), p2(32768, '2'), p3 = "end";
  o.fromVendor(bytes(open(7, "/var/log/plc.log", 0x01)), out);
  o.fromTarget(bytes(handle(7, "h")), out);
  o.fromVendor(
      bytes(read(8, "h", 0) + read(9, "h", 32768) + read(10, "h", 65536) + read(11, "h", 65539)),
      out);
  // The close goes out before the answers (a pipelining client); the second part comes first
  // and is kept until the first arrives.
  o.fromVendor(bytes(close(12, "h")), out);
  trickle(o, data(9, p2) + data(8, p1) + data(10, p3) + status(11, 1, "EOF") + status(12, 0), false,
          out);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].operation == FileOperation::download);
  CHECK(out.events[0].size == p1.size() + p2.size() + p3.size());
  CHECK(out.events[0].sha256 == sha256(p1 + p2 + p3));
  CHECK(out.events[0].detail.empty());
}

TEST_CASE("a file opened only to look at it moves nothing and is not reported") {
  SftpObserver o;
  SftpObserver::Output out;
  o.fromVendor(bytes(open(1, "/etc/hosts", 0x01)), out);
  o.fromTarget(bytes(handle(1, "h")), out);
  o.fromVendor(bytes(close(2, "h")), out);
  o.fromTarget(bytes(status(2, 0)), out);
  CHECK(out.events.empty());
  // Opened to truncate (read and truncate: 0x11) empties it: that is a change.
  o.fromVendor(bytes(open(3, "/etc/plc.conf", 0x11)), out);
  o.fromTarget(bytes(handle(3, "t")), out);
  o.fromVendor(bytes(close(4, "t")), out);
  o.fromTarget(bytes(status(4, 0)), out);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].operation == FileOperation::upload);
  CHECK(out.events[0].size == 0);
}

TEST_CASE("refusals by the target and changes to names are reported with the target's answer") {
  SftpObserver o;
  SftpObserver::Output out;
  o.fromVendor(bytes(open(1, "/root/secret", 0x02)), out);
  o.fromVendor(bytes(Packet().u8(13).u32(2).str("/tmp/old.cfg").wire()), out);
  o.fromVendor(bytes(Packet().u8(14).u32(3).str("/tmp/new").u32(0).wire()), out);
  o.fromVendor(bytes(Packet().u8(18).u32(4).str("/tmp/a").str("/tmp/b").wire()), out);
  o.fromVendor(
      bytes(Packet().u8(200).u32(5).str("posix-rename@openssh.com").str("/x").str("/y").wire()),
      out);
  // OpenSSH's SYMLINK: target first, then the link.
  o.fromVendor(bytes(Packet().u8(20).u32(6).str("/opt/real").str("/opt/link").wire()), out);
  o.fromVendor(bytes(Packet().u8(9).u32(7).str("/tmp/new").u32(4).u32(0755).wire()), out);
  o.fromTarget(bytes(status(1, 3, "Permission denied") + status(2, 0) + status(3, 0) +
                     status(4, 4, "Failure") + status(5, 0) + status(6, 0) + status(7, 0)),
               out);
  REQUIRE(out.events.size() == 7);
  CHECK(out.events[0].operation == FileOperation::upload);
  CHECK(out.events[0].path == "/root/secret");
  CHECK(out.events[0].detail == "refused by the target (Permission denied, status 3)");
  CHECK(out.events[1].operation == FileOperation::remove);
  CHECK(out.events[1].detail.empty());
  CHECK(out.events[2].operation == FileOperation::make_directory);
  CHECK(out.events[3].operation == FileOperation::rename);
  CHECK(out.events[3].detail == "to /tmp/b; refused by the target (Failure, status 4)");
  CHECK(out.events[4].operation == FileOperation::rename);
  CHECK(out.events[4].path == "/x");
  CHECK(out.events[4].detail == "to /y");
  CHECK(out.events[5].operation == FileOperation::link);
  CHECK(out.events[5].path == "/opt/link");
  CHECK(out.events[5].detail == "to /opt/real");
  CHECK(out.events[6].operation == FileOperation::set_attributes);
}

TEST_CASE("a refused write, a resumed upload and an unclosed file say why there is no hash") {
  SftpObserver o;
  SftpObserver::Output out;
  o.fromVendor(bytes(open(1, "/full/disk", 0x02)), out);
  o.fromVendor(bytes(open(2, "/resumed", 0x02)), out);
  o.fromTarget(bytes(handle(1, "A") + handle(2, "B")), out);
  o.fromVendor(bytes(write(3, "A", 0, "xyz") + write(4, "B", 100, "rest")), out);
  o.fromTarget(bytes(status(3, 4, "No space left on device") + status(4, 0)), out);
  o.fromVendor(bytes(close(5, "A")), out);
  o.fromTarget(bytes(status(5, 0)), out);
  o.finish(out);
  REQUIRE(out.events.size() == 2);
  CHECK(out.events[0].path == "/full/disk");
  CHECK_THAT(out.events[0].detail,
             Catch::Contains("a write was refused by the target (No space left on device"));
  CHECK(out.events[0].sha256.empty());  // what landed is not what was sent
  CHECK(out.events[1].path == "/resumed");
  CHECK(out.events[1].size == 4);
  CHECK(out.events[1].sha256.empty());
  CHECK_THAT(out.events[1].detail, Catch::Contains("not closed (the channel ended)") &&
                                       Catch::Contains("started at offset 100"));
}

TEST_CASE("names that are not text are shown with escapes, not passed on raw") {
  SftpObserver o;
  SftpObserver::Output out;
  o.fromVendor(bytes(Packet().u8(13).u32(1).str(std::string("/tmp/a\x1b[2J\xff\\b", 13)).wire()),
               out);
  o.fromTarget(bytes(status(1, 0)), out);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].path == "/tmp/a\\x1b[2J\\xff\\x5cb");
}

TEST_CASE("a stream it cannot follow stops the decoding once, with the reason") {
  SftpObserver o;
  SftpObserver::Output out;
  o.fromVendor(bytes(std::string("\x7f\xff\xff\xff", 4)), out);  // a 2 GiB packet
  REQUIRE(out.stopped);
  CHECK_THAT(*out.stopped, Catch::Contains("a packet of 2147483647 bytes"));
  SftpObserver::Output later;
  o.fromVendor(bytes(open(1, "/a", 0x02)), later);
  o.fromTarget(bytes(status(1, 3, "no")), later);
  CHECK_FALSE(later.stopped);
  CHECK(later.events.empty());

  SftpObserver bad;
  SftpObserver::Output badOut;
  bad.fromVendor(bytes(Packet().u8(3).u32(1).u32(1000).wire()), badOut);  // path overruns
  REQUIRE(badOut.stopped);
  CHECK_THAT(*badOut.stopped, Catch::Contains("malformed request"));

  SftpObserver flood;
  SftpObserver::Output floodOut;
  std::string many;
  for (std::uint32_t id = 0; id < 5000; ++id) many += Packet().u8(13).u32(id).str("/x").wire();
  flood.fromVendor(bytes(many), floodOut);
  REQUIRE(floodOut.stopped);
  CHECK_THAT(*floodOut.stopped, Catch::Contains("requests in flight"));
}

TEST_CASE("what could pin one file's bytes or answers on another stops the decoding") {
  auto stopsWith = [](const std::string& vendor, const std::string& target,
                      const std::string& why) {
    SftpObserver o;
    SftpObserver::Output out;
    o.fromVendor(bytes(vendor), out);
    o.fromTarget(bytes(target), out);
    INFO(why);
    REQUIRE(out.stopped);
    CHECK_THAT(*out.stopped, Catch::Contains(why));
    CHECK(out.events.empty());
  };
  // STAT id 1, then REMOVE id 1: the STAT's answer must not be taken for the removal's.
  stopsWith(Packet().u8(17).u32(1).str("/nonexistent").wire() +
                Packet().u8(13).u32(1).str("/important").wire(),
            "", "request id 1 reused");
  // Writes on a handle guessed before the target gave it out.
  stopsWith(open(1, "/evil", 0x02) + write(2, "\0\0\0\0", 0, "payload"), "",
            "a write on a file handle not seen opened");
  // A write after the file's close.
  SftpObserver late;
  SftpObserver::Output lateOut;
  late.fromVendor(bytes(open(1, "/x", 0x02)), lateOut);
  late.fromTarget(bytes(handle(1, "h")), lateOut);
  late.fromVendor(bytes(close(2, "h") + write(3, "h", 0, "more")), lateOut);
  REQUIRE(lateOut.stopped);
  CHECK_THAT(*lateOut.stopped, Catch::Contains("already closed"));
  // An answer to nothing, and a server speaking another version.
  stopsWith("", status(9, 0), "an answer to no request");
  stopsWith(Packet().u8(1).u32(6).wire(), Packet().u8(2).u32(6).wire(), "SFTP version 6, not 3");
}

TEST_CASE("content the gateway could not see has no hash: copy-data and a stopped decoding") {
  SftpObserver o;
  SftpObserver::Output out;
  o.fromVendor(bytes(open(1, "/src", 0x01) + open(2, "/dst", 0x1a)), out);
  o.fromTarget(bytes(handle(1, "S") + handle(2, "D")), out);
  o.fromVendor(
      bytes(Packet().u8(200).u32(3).str("copy-data").str("S").u64(0).u64(0).str("D").u64(0).wire() +
            close(4, "D")),
      out);
  o.fromTarget(bytes(status(3, 0) + status(4, 0)), out);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].path == "/dst");
  CHECK(out.events[0].sha256.empty());
  CHECK_THAT(out.events[0].detail, Catch::Contains("copied on the target from /src"));

  SftpObserver s;
  SftpObserver::Output sOut;
  s.fromVendor(bytes(open(1, "/f", 0x02)), sOut);
  s.fromTarget(bytes(handle(1, "F")), sOut);
  s.fromVendor(bytes(write(2, "F", 0, "seen") + std::string("\x7f\xff\xff\xff", 4)), sOut);
  REQUIRE(sOut.stopped);
  s.finish(sOut);
  REQUIRE(sOut.events.size() == 1);
  CHECK(sOut.events[0].size == 4);
  CHECK(sOut.events[0].sha256.empty());
  CHECK_THAT(sOut.events[0].detail, Catch::Contains("the decoding stopped"));
}

TEST_CASE("out-of-order parts are held within 8 MiB for the channel, then the hash is given up") {
  SftpObserver o;
  SftpObserver::Output out;
  o.fromVendor(bytes(open(1, "/a", 0x02) + open(2, "/b", 0x02)), out);
  o.fromTarget(bytes(handle(1, "A") + handle(2, "B")), out);
  const std::string part(256 * 1024 - 64, 'p');
  // 20 parts ahead of offset 0 on each file: 10 MiB in all, over the channel's 8 MiB.
  std::uint32_t id = 10;
  for (int i = 1; i <= 20; ++i) {
    const std::uint64_t at = static_cast<std::uint64_t>(i) * part.size();
    o.fromVendor(bytes(write(id, "A", at, part) + write(id + 1, "B", at, part)), out);
    id += 2;
  }
  // Empty writes move nothing and hold nothing.
  for (int i = 0; i < 100; ++i) o.fromVendor(bytes(write(id++, "A", 1u << 30, "")), out);
  std::string answers;
  for (std::uint32_t r = 10; r < id; ++r) answers += status(r, 0);
  o.fromTarget(bytes(answers), out);
  o.fromVendor(bytes(close(id, "A") + close(id + 1, "B")), out);
  o.fromTarget(bytes(status(id, 0) + status(id + 1, 0)), out);
  REQUIRE(out.events.size() == 2);
  // A's 17th part found the channel's 8 MiB full (16 parts each): A gives up and frees its
  // parts; B's fit then, and B lacks only its first part.
  const auto& a = out.events[0].path == "/a" ? out.events[0] : out.events[1];
  const auto& b = out.events[0].path == "/b" ? out.events[0] : out.events[1];
  CHECK(a.sha256.empty());
  CHECK_THAT(a.detail, Catch::Contains("too far out of order"));
  CHECK(b.sha256.empty());
  CHECK_THAT(b.detail, Catch::Contains("started at offset 262080"));
  CHECK_FALSE(out.stopped);
}

TEST_CASE("a handle given out again while its file is open does not mix the two files") {
  SftpObserver o;
  SftpObserver::Output out;
  o.fromVendor(bytes(open(1, "/first", 0x02)), out);
  o.fromTarget(bytes(handle(1, "H")), out);
  o.fromVendor(bytes(write(2, "H", 0, "one") + open(3, "/second", 0x02)), out);
  // A hostile target answers the second open with the first file's handle: the first file is
  // reported as it stands, and the first write's late answer does not touch the second.
  o.fromTarget(bytes(handle(3, "H") + status(2, 4, "Failure")), out);
  o.fromVendor(bytes(write(4, "H", 0, "two") + close(5, "H")), out);
  o.fromTarget(bytes(status(4, 0) + status(5, 0)), out);
  CHECK_FALSE(out.stopped);
  REQUIRE(out.events.size() == 2);
  CHECK(out.events[0].path == "/first");
  CHECK_THAT(out.events[0].detail, Catch::Contains("given out again"));
  CHECK(out.events[1].path == "/second");
  CHECK(out.events[1].sha256 == sha256("two"));
  CHECK(out.events[1].detail.empty());

  // Handles over the draft's 256 bytes are refused; answers after the channel's end are not
  // a fault.
  SftpObserver big;
  SftpObserver::Output bigOut;
  big.fromVendor(bytes(open(1, "/x", 0x02)), bigOut);
  big.fromTarget(bytes(handle(1, std::string(300, 'h'))), bigOut);
  REQUIRE(bigOut.stopped);
  CHECK_THAT(*bigOut.stopped, Catch::Contains("over 256 bytes"));
  SftpObserver late;
  SftpObserver::Output lateOut;
  late.fromVendor(bytes(Packet().u8(13).u32(1).str("/gone").wire()), lateOut);
  late.finish(lateOut);
  late.fromTarget(bytes(status(1, 0)), lateOut);
  CHECK_FALSE(lateOut.stopped);
  CHECK(lateOut.events.empty());
}
