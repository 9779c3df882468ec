#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "conduit/app/memory_return.hpp"

using conduit::app::MemoryReturn;
using conduit::app::memoryReturnAt;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Waits up to `limit` for `done`.
template <typename F>
bool eventually(F done, std::chrono::milliseconds limit = 10s) {
  const auto end = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

}  // namespace

TEST_CASE("memory goes back a quiet period after the last session end") {
  const auto t0 = Clock::time_point{} + 1h;
  // One end: quiet after it.
  CHECK(memoryReturnAt(t0, t0, 5s, 30s) == t0 + 5s);
  // Ends keep coming: each postpones it, up to the longest wait after the first.
  CHECK(memoryReturnAt(t0, t0 + 20s, 5s, 30s) == t0 + 25s);
  CHECK(memoryReturnAt(t0, t0 + 28s, 5s, 30s) == t0 + 30s);
  CHECK(memoryReturnAt(t0, t0 + 60s, 5s, 30s) == t0 + 30s);
}

TEST_CASE("the memory return runs once per burst of session ends and never without one") {
  std::atomic<int> calls{0};
  MemoryReturn r({.quiet = 300ms, .longest = 10s}, [&] { ++calls; });
  std::this_thread::sleep_for(500ms);
  CHECK(calls == 0);  // no session ended: nothing to give back

  for (int i = 0; i < 20; ++i) r.sessionEnded();
  CHECK(calls == 0);  // not before the quiet period
  REQUIRE(eventually([&] { return r.returns() == 1; }));
  std::this_thread::sleep_for(600ms);
  CHECK(calls == 1);  // twenty ends, one return
  CHECK(r.returns() == 1);

  r.sessionEnded();
  REQUIRE(eventually([&] { return r.returns() == 2; }));
  CHECK(calls == 2);
}

TEST_CASE("sessions that keep ending do not postpone the memory return past the longest wait") {
  std::atomic<int> calls{0};
  MemoryReturn r({.quiet = 400ms, .longest = 1s}, [&] { ++calls; });
  const auto start = Clock::now();
  // An end every 100 ms for 3 s: the quiet period never passes.
  while (Clock::now() - start < 3s) {
    r.sessionEnded();
    std::this_thread::sleep_for(100ms);
  }
  CHECK(calls >= 2);  // at 1 s and 2 s (at 3 s under a slow scheduler)
  CHECK(calls <= 3);
}

TEST_CASE("stopping the memory return does not wait for a pending return") {
  std::atomic<int> calls{0};
  const auto start = Clock::now();
  {
    MemoryReturn r({.quiet = 60s, .longest = 60s}, [&] { ++calls; });
    r.sessionEnded();
  }
  CHECK(Clock::now() - start < 5s);
  CHECK(calls == 0);
}
