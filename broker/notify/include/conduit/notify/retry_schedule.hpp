#pragma once

#include <chrono>

namespace conduit::notify {

/// Exponential backoff between delivery attempts: first, 2*first, 4*first, ... at most cap.
struct RetrySchedule {
  // 1 s then doubling: a receiver that restarts is back within seconds; a longer outage is not
  // hammered.
  std::chrono::milliseconds first{1000};
  // 60 s: with the default 6 attempts a delivery is given up about 31 s after its first try
  // (plus request timeouts); the cap only matters when max_attempts is raised.
  std::chrono::milliseconds cap{60000};

  /// The wait after failed attempt number `attempt` (1 for the first attempt).
  std::chrono::milliseconds delayAfter(int attempt) const;
};

}  // namespace conduit::notify
