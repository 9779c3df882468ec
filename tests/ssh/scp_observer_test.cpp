// The legacy scp protocol observer: streams as OpenSSH's scp.c sends them (control lines, data,
// the sending side's status byte) with the receiving side's answers, fed in the order the
// gateway sees them. The real `scp -O` is in tests/ssh/integration/gateway_test.cpp.
#include <catch2/catch.hpp>
#include <string>

#include "conduit/ssh/scp_observer.hpp"
#include "ssh/observer_support.hpp"

using conduit::recorder::FileOperation;
using conduit::ssh::FileEvents;
using conduit::ssh::ScpObserver;

using conduit::test::bytes;
using conduit::test::sha256;

namespace {

const std::string kOk(1, '\0');

}  // namespace

TEST_CASE("only scp's remote end gets an scp observer") {
  CHECK(ScpObserver::forCommand("scp -t /tmp/x") != nullptr);
  CHECK(ScpObserver::forCommand("scp -v -r -p -d -t -- /tmp/-odd") != nullptr);
  CHECK(ScpObserver::forCommand("scp -f '/tmp/a b'") != nullptr);
  CHECK(ScpObserver::forCommand("scp /a /b") == nullptr);     // a copy on the target
  CHECK(ScpObserver::forCommand("scp -t -f /x") == nullptr);  // both ends: not scp
  CHECK(ScpObserver::forCommand("scp -t") == nullptr);        // no path
  CHECK(ScpObserver::forCommand("scpx -t /x") == nullptr);
  CHECK(ScpObserver::forCommand("cat /etc/passwd") == nullptr);
}

TEST_CASE("an upload with scp -t is reported with its size and hash once the target accepts it") {
  auto o = ScpObserver::forCommand("scp -t /opt/plc/fw.bin");
  REQUIRE(o);
  FileEvents out;
  const std::string content(70000, 'f');
  o->fromTarget(bytes(kOk), out);  // ready
  o->fromVendor(bytes("T1700000000 0 1700000000 0\n"), out);
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes("C0644 70000 firmware.bin\n"), out);
  o->fromTarget(bytes(kOk), out);
  // The data in pieces, then the sender's status byte.
  o->fromVendor(bytes(content.substr(0, 1000)), out);
  o->fromVendor(bytes(content.substr(1000) + kOk), out);
  CHECK(out.events.empty());  // not before the receiver's answer
  o->fromTarget(bytes(kOk), out);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].operation == FileOperation::upload);
  CHECK(out.events[0].path == "/opt/plc/fw.bin");
  CHECK(out.events[0].size == 70000);
  CHECK(out.events[0].sha256 == sha256(content));
  CHECK(out.events[0].detail.empty());
  CHECK_FALSE(out.stopped);
}

TEST_CASE("a recursive upload names files inside the directories the vendor sends") {
  auto o = ScpObserver::forCommand("scp -r -t /opt/");
  REQUIRE(o);
  FileEvents out;
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes("D0755 0 project\n"), out);
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes("C0644 3 main.st\n"), out);
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes("abc" + kOk), out);
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes("E\n"), out);
  o->fromTarget(bytes(kOk), out);
  REQUIRE(out.events.size() == 2);
  CHECK(out.events[0].operation == FileOperation::make_directory);
  CHECK(out.events[0].path == "/opt/project");
  CHECK(out.events[1].path == "/opt/project/main.st");
  CHECK(out.events[1].sha256 == sha256("abc"));
}

TEST_CASE("a download with scp -f is hashed from the target's data") {
  auto o = ScpObserver::forCommand("scp -f /var/log/plc.log");
  REQUIRE(o);
  FileEvents out;
  o->fromVendor(bytes(kOk), out);  // the vendor's side is ready
  o->fromTarget(bytes("C0600 5 plc.log\n"), out);
  o->fromVendor(bytes(kOk), out);
  o->fromTarget(bytes("hello" + kOk), out);
  o->fromVendor(bytes(kOk), out);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].operation == FileOperation::download);
  CHECK(out.events[0].path == "/var/log/plc.log");
  CHECK(out.events[0].sha256 == sha256("hello"));
}

TEST_CASE("refusals on either side are reported with the message") {
  auto up = ScpObserver::forCommand("scp -t /root/x");
  FileEvents out;
  up->fromTarget(bytes(kOk), out);
  up->fromVendor(bytes("C0644 10 x\n"), out);
  up->fromTarget(bytes("\x01scp: /root/x: Permission denied\n"), out);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].path == "/root/x");
  CHECK(out.events[0].size == 0);
  CHECK(out.events[0].sha256.empty());
  CHECK(out.events[0].detail == "refused by the receiving side: scp: /root/x: Permission denied");

  auto down = ScpObserver::forCommand("scp -f /nope");
  FileEvents d;
  down->fromVendor(bytes(kOk), d);
  down->fromTarget(bytes("\x01scp: /nope: No such file or directory\n"), d);
  REQUIRE(d.events.size() == 1);
  CHECK(d.events[0].operation == FileOperation::download);
  CHECK(d.events[0].detail == "the sending side reported: scp: /nope: No such file or directory");
}

TEST_CASE("a transfer cut short by the channel's end and a stream that is not scp") {
  auto o = ScpObserver::forCommand("scp -t /tmp/big");
  FileEvents out;
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes("C0644 1000 big\n"), out);
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes(std::string(400, 'x')), out);
  o->finish(out);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].size == 400);
  CHECK(out.events[0].sha256.empty());
  CHECK_THAT(out.events[0].detail,
             Catch::Contains("not finished (the channel ended)") && Catch::Contains("cut short"));

  auto bad = ScpObserver::forCommand("scp -t /tmp/x");
  FileEvents b;
  bad->fromTarget(bytes(kOk), b);
  bad->fromVendor(bytes("C0644 10 x\n0123456789"), b);  // data before the answer
  REQUIRE(b.stopped);
  CHECK_THAT(*b.stopped, Catch::Contains("before the receiving side's answer"));

  auto noise = ScpObserver::forCommand("scp -t /tmp/x");
  FileEvents n;
  noise->fromTarget(bytes("garbage"), n);
  REQUIRE(n.stopped);
  CHECK_THAT(*n.stopped, Catch::Contains("an answer scp does not give"));
}
