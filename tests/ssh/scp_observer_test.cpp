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
  // The receiving side writes the path, or a file named as sent inside it if it is a
  // directory: only the target knows, so the record says so.
  CHECK(out.events[0].detail ==
        "sent as firmware.bin; /opt/plc/fw.bin/firmware.bin if /opt/plc/fw.bin is a directory");
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
             Catch::Contains("not finished (the channel ended)") && Catch::Contains("no SHA-256"));

  auto bad = ScpObserver::forCommand("scp -t /tmp/x");
  FileEvents b;
  bad->fromTarget(bytes(kOk), b);
  bad->fromVendor(bytes("C0644 10 x\n0123456789"), b);  // data before the answer
  REQUIRE(b.stopped);
  CHECK_THAT(*b.stopped, Catch::Contains("went on before the receiving side's answer"));

  auto noise = ScpObserver::forCommand("scp -t /tmp/x");
  FileEvents n;
  noise->fromTarget(bytes("garbage"), n);
  REQUIRE(n.stopped);
  CHECK_THAT(*n.stopped, Catch::Contains("an answer scp does not give"));
}

TEST_CASE("scp into a directory: many files, an empty one, a refusal and a refused directory") {
  // `scp a empty b host:` runs `scp -d -t .`; a refused file is followed by the next one.
  auto o = ScpObserver::forCommand("scp -d -t .");
  FileEvents out;
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes("C0644 2 a\n"), out);
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes("hi" + kOk), out);
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes("C0644 0 empty\n"), out);
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes(kOk), out);  // no data, only the status byte
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes("C0644 3 b\n"), out);
  o->fromTarget(bytes("\x01scp: ./b: Read-only file system\n"), out);
  o->fromVendor(bytes("D0755 0 sub\n"), out);
  o->fromTarget(bytes("\x01scp: ./sub: Permission denied\n"), out);
  o->fromVendor(bytes("C0644 1 c\n"), out);  // not inside the refused directory
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes("x" + kOk), out);
  o->fromTarget(bytes(kOk), out);
  CHECK_FALSE(out.stopped);
  REQUIRE(out.events.size() == 5);
  CHECK(out.events[0].path == "./a");
  CHECK(out.events[0].sha256 == sha256("hi"));
  CHECK(out.events[1].path == "./empty");
  CHECK(out.events[1].size == 0);
  CHECK(out.events[1].sha256 == sha256(""));
  CHECK(out.events[2].path == "./b");
  CHECK(out.events[2].sha256.empty());
  CHECK_THAT(out.events[2].detail, Catch::Contains("Read-only file system"));
  CHECK(out.events[3].operation == FileOperation::make_directory);
  CHECK_THAT(out.events[3].detail, Catch::Contains("Permission denied"));
  CHECK(out.events[4].path == "./c");
}

TEST_CASE("a recursive download names files under the fetched directory, trailing slash or not") {
  auto o = ScpObserver::forCommand("scp -r -f /opt/project/");
  FileEvents out;
  o->fromVendor(bytes(kOk), out);
  o->fromTarget(bytes("D0755 0 project\n"), out);
  o->fromVendor(bytes(kOk), out);
  o->fromTarget(bytes("C0644 4 main.st\n"), out);
  o->fromVendor(bytes(kOk), out);
  o->fromTarget(bytes("code" + kOk), out);
  o->fromVendor(bytes(kOk), out);
  o->fromTarget(bytes("E\n"), out);
  o->fromVendor(bytes(kOk), out);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].path == "/opt/project/main.st");
  CHECK(out.events[0].sha256 == sha256("code"));

  // A source that fails while reading: its status byte is an error, then its message.
  auto f = ScpObserver::forCommand("scp -f /dev/flaky");
  FileEvents fo;
  f->fromVendor(bytes(kOk), fo);
  f->fromTarget(bytes("C0644 4 flaky\n"), fo);
  f->fromVendor(bytes(kOk), fo);
  f->fromTarget(bytes(std::string("\0\0\0\0", 4) + "\x01scp: /dev/flaky: Input/output error\n"),
                fo);
  f->fromVendor(bytes(kOk), fo);
  CHECK_FALSE(fo.stopped);
  REQUIRE(fo.events.size() == 1);
  CHECK(fo.events[0].path == "/dev/flaky");
  CHECK(fo.events[0].sha256.empty());
  CHECK_THAT(fo.events[0].detail,
             Catch::Contains("the sending side failed: scp: /dev/flaky: Input/output error"));
}

TEST_CASE("a directory sent before the last one was answered stops the decoding") {
  // D x (to be refused) and D y at once: the refusal would otherwise be pinned on y.
  auto o = ScpObserver::forCommand("scp -r -t /opt/");
  FileEvents out;
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes("D0755 0 x\nD0755 0 y\n"), out);
  REQUIRE(out.stopped);
  CHECK_THAT(*out.stopped, Catch::Contains("went on before the receiving side's answer"));
}

TEST_CASE("a file cannot be hidden behind a failure status or a recursive copy's guessed path") {
  // The sender reports a failure after the data and goes straight on to the next file: the
  // first file stays recorded and the decoding stops (scp waits for the data's answer).
  auto o = ScpObserver::forCommand("scp -t /srv/in");
  FileEvents out;
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes("C0644 4 evil.bin\n"), out);
  o->fromTarget(bytes(kOk), out);
  o->fromVendor(bytes("evil\x01x\nC0644 0 y\n"), out);
  REQUIRE(out.stopped);
  o->finish(out);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].path == "/srv/in");
  CHECK(out.events[0].size == 4);
  CHECK(out.events[0].sha256.empty());

  // `scp -O -r proj host:/srv/new`: /srv/new may not exist (then it becomes proj): said so.
  auto r = ScpObserver::forCommand("scp -r -t /srv/new");
  FileEvents ro;
  r->fromTarget(bytes(kOk), ro);
  r->fromVendor(bytes("D0755 0 proj\n"), ro);
  r->fromTarget(bytes(kOk), ro);
  r->fromVendor(bytes("C0644 1 f\n"), ro);
  r->fromTarget(bytes(kOk), ro);
  r->fromVendor(bytes("f" + kOk), ro);
  r->fromTarget(bytes(kOk), ro);
  REQUIRE(ro.events.size() == 2);
  CHECK(ro.events[1].path == "/srv/new/proj/f");
  CHECK_THAT(ro.events[1].detail, Catch::Contains("if /srv/new is a directory"));
}
