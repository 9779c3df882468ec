#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "conduit/core/clock.hpp"

namespace conduit::portal {

/// A fixed-window counter per key (the client address): at most `perMinute` events in any
/// clock minute window. Pure logic on a clock, so tests drive it with a FixedClock.
class RateLimiter {
 public:
  RateLimiter(const core::Clock& clock, int perMinute) : clock_(clock), perMinute_(perMinute) {}

  /// Counts one event for key; false (and seconds to wait in retryAfter) when over the limit.
  bool allow(const std::string& key, int& retryAfter);

 private:
  struct Window {
    core::TimePoint start{};
    int count = 0;
  };
  const core::Clock& clock_;
  int perMinute_;
  std::mutex mutex_;
  std::map<std::string, Window> windows_;
};

}  // namespace conduit::portal
