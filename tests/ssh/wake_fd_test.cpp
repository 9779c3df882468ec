// WakeFd: the eventfd through which one side of a relay wakes the other's libssh event loop. The
// loops compare consumed() around their libssh calls, which poll the whole event and can take a
// wake-up meant for the loop itself (then it must look again instead of waiting).
#include <catch2/catch.hpp>

#include <libssh/libssh.h>

#include <chrono>
#include <thread>

#include "session_thread.hpp"

using conduit::ssh::WakeFd;

namespace {
/// A WakeFd in a libssh event of its own, as each relay loop has it.
struct Polled {
  WakeFd wake;
  ssh_event event = ssh_event_new();
  Polled() {
    REQUIRE(wake.valid());
    REQUIRE(event != nullptr);
    REQUIRE(wake.addTo(event));
  }
  ~Polled() {
    wake.removeFrom(event);
    ssh_event_free(event);
  }
  Polled(const Polled&) = delete;
  Polled& operator=(const Polled&) = delete;
};
}  // namespace

TEST_CASE("a wake-up taken by any poll of the event shows in consumed()") {
  Polled polled;
  WakeFd& wake = polled.wake;
  ssh_event event = polled.event;

  // Nothing signalled: a poll that does not wait takes nothing.
  CHECK(ssh_event_dopoll(event, 0) == SSH_AGAIN);
  CHECK(wake.consumed() == 0);

  // Signalled from another thread, as the relay's target side does: the next poll of the event,
  // whoever runs it, consumes it, and the count says so.
  std::thread other([&wake] { wake.signal(); });
  other.join();
  CHECK(ssh_event_dopoll(event, 1000) == SSH_OK);
  CHECK(wake.consumed() == 1);

  // Consumed means gone: the fd is not readable any more.
  CHECK(ssh_event_dopoll(event, 0) == SSH_AGAIN);
  CHECK(wake.consumed() == 1);

  // Several signals before one poll are one wake-up.
  wake.signal();
  wake.signal();
  CHECK(ssh_event_dopoll(event, 1000) == SSH_OK);
  CHECK(wake.consumed() == 2);
}

TEST_CASE("busyAfter: a step that consumed a wake-up leaves the loop busy") {
  Polled polled;
  WakeFd& wake = polled.wake;
  ssh_event event = polled.event;

  // A step with nothing to do and no wake-up taken: the loop may wait.
  CHECK_FALSE(wake.busyAfter([&] {
    ssh_event_dopoll(event, 0);
    return false;
  }));

  // The step's own libssh call took a wake-up signalled before it: busy although the step
  // itself says it has nothing left.
  wake.signal();
  CHECK(wake.busyAfter([&] {
    ssh_event_dopoll(event, 1000);
    return false;
  }));

  // The step's own answer still counts.
  CHECK(wake.busyAfter([] { return true; }));
}

TEST_CASE("pollRound: what is deferred is released only when nothing more is coming") {
  Polled polled;
  WakeFd& wake = polled.wake;
  int released = 0;
  const auto release = [&released] { ++released; };

  // Busy: one poll that does not wait, nothing released.
  CHECK(conduit::ssh::pollRound(
            polled.event, true, 1000, [] { return true; }, release) == SSH_AGAIN);
  CHECK(released == 0);

  // Something deferred and more already there: it is taken, the release waits for later.
  wake.signal();
  CHECK(conduit::ssh::pollRound(
            polled.event, false, 1000, [] { return true; }, release) == SSH_OK);
  CHECK(released == 0);
  CHECK(wake.consumed() == 1);

  // Something deferred and nothing coming: released, then the waiting poll (ended by a wake-up).
  std::thread later([&wake] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    wake.signal();
  });
  CHECK(conduit::ssh::pollRound(
            polled.event, false, 10000, [] { return true; }, release) == SSH_OK);
  later.join();
  CHECK(released == 1);
  CHECK(wake.consumed() == 2);

  // Nothing deferred: straight to the waiting poll, after the (empty) release.
  wake.signal();
  CHECK(conduit::ssh::pollRound(
            polled.event, false, 10000, [] { return false; }, release) == SSH_OK);
  CHECK(released == 2);
  CHECK(wake.consumed() == 3);
}
