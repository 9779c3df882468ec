#pragma once

#include <string>

#include "conduit/core/access_limits.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/core/result.hpp"

namespace conduit::policies {

/// True if the time `at` falls inside the schedule: its local time in the schedule's IANA zone
/// is on one of its weekdays and within [startMinute, endMinute). A range whose start is after
/// its end wraps past midnight ("22:00-06:00"); the part after midnight belongs to the day the
/// range started on. Fails with invalid_argument for an unknown zone or malformed schedule.
core::Result<bool> inSchedule(const core::Schedule& s, core::TimePoint at);

/// The schedule as policy files write it, e.g. "mon-fri 06:00-18:00 Europe/Berlin".
std::string describeSchedule(const core::Schedule& s);

/// True if `name` is a time zone in the operating system's IANA database.
bool isKnownTimeZone(const std::string& name) noexcept;

}  // namespace conduit::policies
