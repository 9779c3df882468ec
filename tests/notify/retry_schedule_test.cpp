#include <catch2/catch.hpp>

#include "conduit/notify/retry_schedule.hpp"

using namespace std::chrono_literals;
using conduit::notify::RetrySchedule;

TEST_CASE("notify: the default backoff doubles from 1 s and is capped at 60 s") {
  const RetrySchedule s;
  CHECK(s.delayAfter(1) == 1s);
  CHECK(s.delayAfter(2) == 2s);
  CHECK(s.delayAfter(3) == 4s);
  CHECK(s.delayAfter(4) == 8s);
  CHECK(s.delayAfter(5) == 16s);
  CHECK(s.delayAfter(6) == 32s);
  CHECK(s.delayAfter(7) == 60s);
  CHECK(s.delayAfter(8) == 60s);
  CHECK(s.delayAfter(1000) == 60s);  // no overflow however long it has failed
}

TEST_CASE("notify: a custom schedule (as tests use) follows the same rule") {
  const RetrySchedule s{10ms, 25ms};
  CHECK(s.delayAfter(1) == 10ms);
  CHECK(s.delayAfter(2) == 20ms);
  CHECK(s.delayAfter(3) == 25ms);
}
