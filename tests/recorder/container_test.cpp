#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <fstream>
#include <map>
#include <thread>

#include "conduit/recorder/reader.hpp"
#include "conduit/recorder/writer.hpp"
#include "recorder/fixtures.hpp"
#include "support/temp_dir.hpp"

using namespace conduit::recorder;
using namespace conduit::recorder::testing;
using conduit::test::TempDir;

namespace {

std::vector<Record> oneOfEachKind() {
  const auto tuple = *ipv4Tuple("10.1.2.3", 40001, "10.9.8.7", 502);
  std::vector<Record> v;
  auto add = [&v](RecordKind k, Direction d, std::vector<unsigned char> p) {
    v.push_back({static_cast<std::uint64_t>(v.size()) * 1000, 3, d, k, std::move(p)});
  };
  add(RecordKind::marker, Direction::none, bytesOf("session started"));
  add(RecordKind::resize, Direction::to_target, encodeResize({120, 40}));
  add(RecordKind::terminal_output, Direction::to_client, bytesOf("\x1b[1mroot@plc\x1b[0m:~# "));
  add(RecordKind::terminal_input, Direction::to_target, bytesOf("ls -l\r"));
  add(RecordKind::exec_command, Direction::to_target, bytesOf("systemctl restart plc-gw"));
  add(RecordKind::file_transfer, Direction::to_target,
      encodeFileTransfer({FileOperation::upload, 4096, "/opt/plc/ladder.bin", "", ""}));
  add(RecordKind::tunnel_bytes, Direction::to_target,
      encodeTunnelBytes(tuple, std::vector<unsigned char>{0, 1, 0, 0, 0, 6, 1, 3, 0, 16, 0, 2}));
  add(RecordKind::protocol_event, Direction::to_target,
      encodeProtocolEvent({"modbus", "allow", "read holding registers 16..17 unit 1"}));
  add(RecordKind::rdp_update, Direction::to_client,
      encodeRdpTile({0, 0, 2, 2, 0x20, std::vector<unsigned char>(16, 0xab)}));
  // Raw bytes stay bytes: every byte value, including NUL and invalid UTF-8.
  std::vector<unsigned char> all(256);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<unsigned char>(i);
  add(RecordKind::terminal_output, Direction::to_client, all);
  add(RecordKind::terminal_output, Direction::to_client, {});  // empty payloads are records too
  return v;
}

}  // namespace

TEST_CASE("every record kind round trips through an encrypted recording") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "s1.crec";
  const auto records = oneOfEachKind();
  {
    auto w = RecordingWriter::create({.file = file, .sessionId = "sess-0001"}, vault);
    REQUIRE(w.ok());
    for (const auto& r : records) REQUIRE((*w)->append(r).ok());
    auto m = (*w)->close(*broker.signer);
    REQUIRE(m.ok());
    CHECK(m->sessionId == "sess-0001");
    CHECK(m->fileName == "s1.crec");
    for (std::size_t i = 0; i < kRecordKindCount; ++i) {
      CHECK(m->recordCounts[i] == (i == kindIndex(RecordKind::terminal_output) ? 3u : 1u));
    }
    std::uint64_t in = 0;
    for (const auto& r : records) in += r.payload.size();
    CHECK(m->bytesIn == in);
    CHECK(m->bytesOnDisk == std::filesystem::file_size(file));
    CHECK(m->durationUs == records.back().timeUs);
    CHECK(m->endedUnixUs >= m->startedUnixUs);
  }
  // The file is not readable by others and holds no plaintext.
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::others_read) ==
        std::filesystem::perms::none);
  const auto raw = readBytes(file);
  const std::string rawText(raw.begin(), raw.end());
  CHECK(rawText.find("systemctl") == std::string::npos);
  CHECK(rawText.find("session started") == std::string::npos);

  const auto all = readAll(file, keyList(vault));
  CHECK(all.status.verdict == Verdict::intact);
  CHECK(all.header.sessionId == "sess-0001");
  REQUIRE(all.records.size() == records.size());
  for (std::size_t i = 0; i < records.size(); ++i) CHECK(all.records[i] == records[i]);

  const auto report = verifyRecording(file, keyList(vault), broker.publicKey());
  INFO(report.status.message);
  CHECK(report.status.verdict == Verdict::intact);
  CHECK(report.records == records.size());
  REQUIRE(report.manifest.has_value());
  CHECK(report.manifestDigest == manifestDigest(*report.manifest));
}

TEST_CASE("append stamps times, splits long byte streams and refuses oversized structures") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = dir / "s.crec";
  auto w = RecordingWriter::create({.file = file, .sessionId = "s"}, vault);
  REQUIRE(w.ok());
  const auto big = randomBytes(kMaxRecordPayload * 2 + 100);
  REQUIRE((*w)->append(RecordKind::terminal_output, 1, Direction::to_client, big).ok());
  const auto tuple = *ipv4Tuple("127.0.0.1", 1, "127.0.0.2", 2);
  REQUIRE((*w)->appendTunnelBytes(2, Direction::to_client, tuple, big).ok());
  const auto st = (*w)->append(RecordKind::exec_command, 1, Direction::to_target,
                               std::vector<unsigned char>(kMaxRecordPayload + 1, 'a'));
  CHECK(st.error().code == conduit::core::ErrorCode::invalid_argument);
  CHECK((*w)->status().ok());  // a refused record does not fail the recording
  // Times never go backwards even if the caller's do.
  REQUIRE(
      (*w)->append(Record{5'000'000, 1, Direction::none, RecordKind::marker, bytesOf("a")}).ok());
  REQUIRE((*w)->append(Record{1'000, 1, Direction::none, RecordKind::marker, bytesOf("b")}).ok());
  REQUIRE((*w)->close(*broker.signer).ok());

  const auto all = readAll(file, keyList(vault));
  REQUIRE(all.status.verdict == Verdict::intact);
  std::vector<unsigned char> term;
  std::vector<unsigned char> tun;
  std::size_t termRecords = 0;
  for (const auto& r : all.records) {
    CHECK(r.payload.size() <= kMaxRecordPayload);
    if (r.kind == RecordKind::terminal_output) {
      term.insert(term.end(), r.payload.begin(), r.payload.end());
      ++termRecords;
    }
    if (r.kind == RecordKind::tunnel_bytes) {
      const auto c = decodeTunnelBytes(r.payload);
      REQUIRE(c.has_value());
      CHECK(c->tuple == tuple);
      tun.insert(tun.end(), c->bytes.begin(), c->bytes.end());
    }
  }
  CHECK(termRecords == 3);
  CHECK(term == big);
  CHECK(tun == big);
  CHECK(all.records.back().timeUs == 5'000'000);
}

TEST_CASE("an auditor key decrypts without the broker's wrapper") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  auto [auditorPk, auditorSk] = generateAuditorKeyPair();
  auto sealTo = SealedBoxKeyWrapper::forPublicKey(auditorPk);
  const auto file = dir / "a.crec";
  {
    auto w = RecordingWriter::create({.file = file, .sessionId = "sess-aud"}, vault, &sealTo);
    REQUIRE(w.ok());
    REQUIRE(
        (*w)->append(RecordKind::terminal_output, 0, Direction::to_client, bytesOf("secret ops"))
            .ok());
    REQUIRE((*w)->close(*broker.signer).ok());
  }
  const auto auditor = SealedBoxKeyWrapper::forKeyPair(auditorPk, auditorSk.reveal());
  CHECK(auditor.keyId() == sealTo.keyId());
  CHECK(auditor.keyId().rfind("x25519:", 0) == 0);
  const auto all = readAll(file, keyList(auditor));
  INFO(all.status.message);
  REQUIRE(all.status.verdict == Verdict::intact);
  REQUIRE(all.records.size() == 1);
  CHECK(textOf(all.records[0].payload) == "secret ops");
  CHECK(all.header.keySlots.size() == 2);
  CHECK(verifyRecording(file, keyList(auditor), broker.publicKey()).status.verdict ==
        Verdict::intact);

  // Another auditor's key, or the public half alone, opens nothing.
  auto [otherPk, otherSk] = generateAuditorKeyPair();
  const auto other = SealedBoxKeyWrapper::forKeyPair(otherPk, otherSk.reveal());
  CHECK(readAll(file, keyList(other)).status.verdict == Verdict::wrong_key);
  CHECK(readAll(file, keyList(sealTo)).status.verdict == Verdict::wrong_key);
}

TEST_CASE("a sealed key copied into another recording's header does not open it") {
  auto [pk, sk] = generateAuditorKeyPair();
  auto w = SealedBoxKeyWrapper::forKeyPair(pk, sk.reveal());
  const auto key = SecretKey32::generate();
  const auto wrapped = w.wrap(key.reveal(), "session-a");
  REQUIRE(wrapped.ok());
  const auto back = w.unwrap(*wrapped, "session-a");
  REQUIRE(back.ok());
  CHECK(std::equal(back->reveal().begin(), back->reveal().end(), key.reveal().begin()));
  CHECK_FALSE(w.unwrap(*wrapped, "session-b").ok());
}

TEST_CASE("a full queue fails the recording at once and reports it once") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  std::atomic<int> calls{0};
  WriterOptions o{.file = dir / "q.crec", .sessionId = "q"};
  o.queueLimitBytes = 4096;
  o.onFailure = [&calls](const conduit::core::Error&) { ++calls; };
  auto w = RecordingWriter::create(o, vault);
  REQUIRE(w.ok());
  REQUIRE((*w)->append(RecordKind::terminal_output, 0, Direction::to_client, bytesOf("ok")).ok());
  const auto st = (*w)->append(RecordKind::terminal_output, 0, Direction::to_client,
                               std::vector<unsigned char>(8192, 'x'));
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == conduit::core::ErrorCode::unavailable);
  CHECK(calls == 1);
  CHECK_FALSE((*w)->status().ok());
  CHECK_FALSE((*w)->append(RecordKind::marker, 0, Direction::none, bytesOf("late")).ok());
  CHECK(calls == 1);
  CHECK_FALSE((*w)->close(*broker.signer).ok());
  CHECK_FALSE(std::filesystem::exists(manifestPathFor(dir / "q.crec")));
}

TEST_CASE("a disk that fails mid-recording fails the recording (fail closed)") {
  TempDir dir;
  const auto file = dir / "full.crec";
  // The child limits its file size (as a full disk would) so the writer's write() fails.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{64 * 1024, 64 * 1024};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    TestVaultWrapper vault;
    std::atomic<bool> failed{false};
    std::atomic<bool> wasIo{false};
    WriterOptions o{.file = file, .sessionId = "full"};
    o.onFailure = [&](const conduit::core::Error& e) {
      wasIo = e.code == conduit::core::ErrorCode::io;
      failed = true;
    };
    auto w = RecordingWriter::create(o, vault);
    if (!w.ok()) ::_exit(10);
    const auto chunk = randomBytes(16 * 1024);
    for (int i = 0; i < 64 && !failed; ++i) {
      (void)(*w)->append(RecordKind::terminal_output, 0, Direction::to_client, chunk);
    }
    for (int i = 0; i < 500 && !failed; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    int code = 0;
    if (!failed) code |= 1;
    if (!wasIo) code |= 2;
    if ((*w)->status().ok()) code |= 4;
    if ((*w)->append(RecordKind::marker, 0, Direction::none, bytesOf("x")).ok()) code |= 8;
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("random bytes cost at most 1% more on disk, terminal text compresses") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto tuple = *ipv4Tuple("127.0.0.1", 50000, "127.0.0.1", 502);
  {
    auto w = RecordingWriter::create({.file = dir / "r.crec", .sessionId = "r"}, vault);
    REQUIRE(w.ok());
    const auto chunk = randomBytes(8u << 20);
    for (std::size_t off = 0; off < chunk.size(); off += 32768) {
      REQUIRE((*w)->appendTunnelBytes(1, Direction::to_client, tuple,
                                      std::span(chunk).subspan(off, 32768))
                  .ok());
    }
    auto m = (*w)->close(*broker.signer);
    REQUIRE(m.ok());
    const double ratio = static_cast<double>(m->bytesOnDisk) / static_cast<double>(m->bytesIn);
    INFO("random ratio " << ratio);
    CHECK(ratio <= 1.01);
  }
  {
    auto w = RecordingWriter::create({.file = dir / "t.crec", .sessionId = "t"}, vault);
    REQUIRE(w.ok());
    for (int i = 0; i < 20000; ++i) {
      const auto line = "-rw-r--r-- 1 plc plc  " + std::to_string(1000 + i * 7) +
                        " Nov 26 04:00 ladder-" + std::to_string(i) + ".bin\r\n";
      REQUIRE(
          (*w)->append(RecordKind::terminal_output, 0, Direction::to_client, bytesOf(line)).ok());
    }
    auto m = (*w)->close(*broker.signer);
    REQUIRE(m.ok());
    const double ratio = static_cast<double>(m->bytesOnDisk) / static_cast<double>(m->bytesIn);
    INFO("text ratio " << ratio);
    CHECK(ratio < 0.5);
    CHECK(readAll(dir / "t.crec", keyList(vault)).records.size() == 20000);
  }
}

TEST_CASE("create refuses to overwrite and validates its options") {
  TempDir dir;
  TestVaultWrapper vault;
  testing::writeBytes(dir / "x.crec", {1, 2, 3});
  auto w = RecordingWriter::create({.file = dir / "x.crec", .sessionId = "x"}, vault);
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().code == conduit::core::ErrorCode::already_exists);
  CHECK_FALSE(RecordingWriter::create({.file = dir / "y.crec", .sessionId = ""}, vault).ok());
  CHECK_FALSE(
      RecordingWriter::create({.file = dir / "y.crec", .sessionId = std::string(129, 'a')}, vault)
          .ok());
}

TEST_CASE("a writer destroyed without close leaves a truncated, readable recording") {
  TempDir dir;
  TestVaultWrapper vault;
  {
    auto w = RecordingWriter::create({.file = dir / "d.crec", .sessionId = "d"}, vault);
    REQUIRE(w.ok());
    REQUIRE(
        (*w)->append(RecordKind::terminal_output, 0, Direction::to_client, bytesOf("bye")).ok());
  }
  const auto all = readAll(dir / "d.crec", keyList(vault));
  CHECK(all.status.verdict == Verdict::truncated);
  REQUIRE(all.records.size() == 1);
  CHECK(textOf(all.records[0].payload) == "bye");
}

TEST_CASE("records are sealed within about a second without close: after a quiet spell too") {
  // The writer thread sleeps for one interval after it finds nothing to seal, then until the
  // next record: a record arriving in either state must still reach the file within about a
  // second (a crash loses at most that), not wait for the next full batch or for close.
  TempDir dir;
  TestVaultWrapper vault;
  const auto file = dir / "q.crec";
  auto w = RecordingWriter::create({.file = file, .sessionId = "q"}, vault);
  REQUIRE(w.ok());
  auto sealedWithin = [&](std::size_t records) {
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
      if (readAll(file, keyList(vault)).records.size() >= records) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::chrono::steady_clock::now() - start;
  };
  // Quiet for longer than the interval: the thread sleeps until a record wakes it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  REQUIRE((*w)->append(RecordKind::terminal_output, 0, Direction::to_client, bytesOf("a")).ok());
  const auto first = sealedWithin(1);
  CHECK(first < std::chrono::milliseconds(2500));
  CHECK(first >
        std::chrono::milliseconds(500));  // a batch waits for its second, not sealed per record
  // Right after a seal: the thread waits out an interval without being woken.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE((*w)->append(RecordKind::terminal_output, 0, Direction::to_client, bytesOf("b")).ok());
  CHECK(sealedWithin(2) < std::chrono::milliseconds(2500));
  const auto all = readAll(file, keyList(vault));
  REQUIRE(all.records.size() == 2);
  CHECK(textOf(all.records[1].payload) == "b");
  BrokerKey broker;
  REQUIRE((*w)->close(*broker.signer).ok());
}

TEST_CASE("the recording's threads run as batch work that does not preempt the relay") {
  // Sealing and writing have a second of slack: they must not preempt the threads that relay
  // the session each time they wake (SCHED_BATCH), yet keep their fair share (not SCHED_IDLE).
  // The writer changes only a SCHED_OTHER thread (a broker run with a real-time policy keeps
  // it), so the test needs to start from one.
  INFO("the test must run under SCHED_OTHER, as the broker does by default");
  REQUIRE(sched_getscheduler(0) == SCHED_OTHER);

  TempDir dir;
  TestVaultWrapper vault;
  auto w = RecordingWriter::create({.file = dir / "b.crec", .sessionId = "b"}, vault);
  REQUIRE(w.ok());
  std::map<std::string, int> policy;  // thread name -> scheduling policy
  auto bothBatch = [&policy] {
    return policy.count("rec-writer") == 1 && policy.count("rec-sink") == 1 &&
           policy["rec-writer"] == SCHED_BATCH && policy["rec-sink"] == SCHED_BATCH;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!bothBatch() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    policy.clear();
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream commFile(task.path() / "comm");
      std::string name;
      std::getline(commFile, name);
      if (name != "rec-writer" && name != "rec-sink") continue;
      policy[name] = sched_getscheduler(static_cast<pid_t>(std::stol(task.path().filename())));
    }
  }
  CHECK(policy["rec-writer"] == SCHED_BATCH);
  CHECK(policy["rec-sink"] == SCHED_BATCH);
  // The thread that created the writer (here: the test's) is left as it was.
  CHECK(sched_getscheduler(0) == SCHED_OTHER);
  BrokerKey broker;
  REQUIRE((*w)->close(*broker.signer).ok());
}
