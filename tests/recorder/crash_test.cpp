#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <thread>

#include "conduit/recorder/reader.hpp"
#include "conduit/recorder/writer.hpp"
#include "recorder/fixtures.hpp"
#include "support/temp_dir.hpp"

using namespace conduit::recorder;
using namespace conduit::recorder::testing;
using conduit::test::TempDir;

TEST_CASE("a writer killed with SIGKILL leaves everything up to its last sealed batch") {
  TempDir dir;
  TestVaultWrapper vault;  // created before fork: the child wraps with the same key
  const auto file = dir / "crash.crec";
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Default options: batches are sealed every second (or 64 KiB, which this never reaches).
    auto w = RecordingWriter::create({.file = file, .sessionId = "crash"}, vault);
    if (!w.ok()) ::_exit(1);
    for (int i = 0;; ++i) {
      (void)(*w)->append(RecordKind::terminal_output, 0, Direction::to_client,
                         bytesOf("line " + std::to_string(i) + "\n"));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFSIGNALED(status));

  const auto all = readAll(file, keyList(vault));
  INFO(all.status.message);
  CHECK(all.status.verdict == Verdict::truncated);
  CHECK(all.status.message.find("truncated at") != std::string::npos);
  // The first batch was sealed about a second in: ~200 records at 5 ms each (ASan slows the
  // child; 50 is a safe floor). The prefix is complete and in order.
  REQUIRE(all.records.size() >= 50);
  for (std::size_t i = 0; i < all.records.size(); ++i) {
    CHECK(textOf(all.records[i].payload) == "line " + std::to_string(i) + "\n");
  }
  CHECK(all.records.back().timeUs >= 500'000);

  BrokerKey broker;
  const auto r = verifyRecording(file, keyList(vault), broker.publicKey());
  CHECK(r.status.verdict == Verdict::truncated);
  CHECK(r.records == all.records.size());
}
