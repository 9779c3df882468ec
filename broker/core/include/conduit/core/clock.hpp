#pragma once

#include <chrono>

namespace conduit::core {

/// Wall-clock instants, to the second: grants, windows and audit times are second-granular.
using TimePoint = std::chrono::sys_seconds;
using Seconds = std::chrono::seconds;

/// The source of "now". Injected everywhere time matters so tests can fix it.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

/// The real wall clock.
class SystemClock final : public Clock {
 public:
  TimePoint now() const override {
    return std::chrono::time_point_cast<Seconds>(std::chrono::system_clock::now());
  }
};

/// A clock that says what it is told; for tests and replays.
class FixedClock final : public Clock {
 public:
  explicit FixedClock(TimePoint t) : now_(t) {}
  TimePoint now() const override { return now_; }
  void set(TimePoint t) { now_ = t; }
  void advance(Seconds d) { now_ += d; }

 private:
  TimePoint now_;
};

}  // namespace conduit::core

#include <optional>
#include <string>
#include <string_view>

namespace conduit::core {

/// "2026-11-26T04:13:00Z".
std::string formatTime(TimePoint t);

/// Parses "YYYY-MM-DDTHH:MM:SSZ" (also "YYYY-MM-DDTHH:MMZ", "YYYY-MM-DD HH:MM:SS" as UTC and
/// "YYYY-MM-DD" as midnight UTC). nullopt for anything else.
std::optional<TimePoint> parseTime(std::string_view text);

/// Parses durations such as "90s", "30m", "4h", "1h30m", "2d". nullopt if malformed or zero.
std::optional<Seconds> parseDuration(std::string_view text);

/// "1h30m", "45s", "2d".
std::string formatDuration(Seconds d);

}  // namespace conduit::core
