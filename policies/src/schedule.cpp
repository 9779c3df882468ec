#include "conduit/policies/schedule.hpp"

#include <date/tz.h>

#include <array>
#include <exception>

namespace conduit::policies {

using core::ErrorCode;
using core::fail;

namespace {

constexpr int kMinutesPerDay = 24 * 60;

// Policy files write weeks from Monday; core numbers days from Sunday = 0.
constexpr std::array<const char*, 7> kDayNamesFromSunday = {"sun", "mon", "tue", "wed",
                                                            "thu", "fri", "sat"};

std::string hhmm(int minute) {
  const int h = minute / 60;
  const int m = minute % 60;
  std::string out;
  out += static_cast<char>('0' + h / 10);
  out += static_cast<char>('0' + h % 10);
  out += ':';
  out += static_cast<char>('0' + m / 10);
  out += static_cast<char>('0' + m % 10);
  return out;
}

std::optional<std::string> scheduleProblem(const core::Schedule& s) {
  if (s.startMinute < 0 || s.startMinute >= kMinutesPerDay) return "start is not a time of day";
  if (s.endMinute <= 0 || s.endMinute > kMinutesPerDay) return "end is not a time of day";
  if (s.startMinute == s.endMinute) return "the time range is empty";
  for (int d : s.weekdays) {
    if (d < 0 || d > 6) return "weekday " + std::to_string(d) + " is not 0 (Sunday) to 6";
  }
  return std::nullopt;
}

}  // namespace

bool isKnownTimeZone(const std::string& name) noexcept {
  try {
    return date::locate_zone(name) != nullptr;
  } catch (const std::exception&) {
    return false;
  }
}

core::Result<bool> inSchedule(const core::Schedule& s, core::TimePoint at) {
  if (auto problem = scheduleProblem(s)) {
    return fail(ErrorCode::invalid_argument, "schedule: " + *problem);
  }
  try {
    const date::time_zone* zone = date::locate_zone(s.timezone);
    const auto local = zone->to_local(at);
    const auto day = date::floor<date::days>(local);
    const int minute = static_cast<int>((local - day) / std::chrono::minutes{1});
    const auto weekday = static_cast<int>(date::weekday{day}.c_encoding());
    if (s.startMinute < s.endMinute) {
      return s.weekdays.contains(weekday) && minute >= s.startMinute && minute < s.endMinute;
    }
    // Wraps past midnight: the evening part belongs to today, the morning part to yesterday.
    if (minute >= s.startMinute) return s.weekdays.contains(weekday);
    if (minute < s.endMinute) return s.weekdays.contains((weekday + 6) % 7);
    return false;
  } catch (const std::exception& e) {
    return fail(ErrorCode::invalid_argument,
                "schedule: time zone '" + s.timezone + "' cannot be used: " + e.what());
  }
}

std::string describeSchedule(const core::Schedule& s) {
  // Runs of consecutive days, Monday first: {1..5} -> "mon-fri", {1,3} -> "mon,wed".
  std::string days;
  int i = 0;
  while (i < 7) {
    const int day = (i + 1) % 7;
    if (!s.weekdays.contains(day)) {
      ++i;
      continue;
    }
    int j = i;
    while (j + 1 < 7 && s.weekdays.contains((j + 2) % 7)) ++j;
    if (!days.empty()) days += ",";
    days += kDayNamesFromSunday[static_cast<std::size_t>(day)];
    if (j - i >= 2) {
      days += std::string("-") + kDayNamesFromSunday[static_cast<std::size_t>((j + 1) % 7)];
    } else if (j == i + 1) {
      days += std::string(",") + kDayNamesFromSunday[static_cast<std::size_t>((j + 1) % 7)];
    }
    i = j + 1;
  }
  if (days.empty()) days = "never";
  return days + " " + hhmm(s.startMinute) + "-" + hhmm(s.endMinute) + " " + s.timezone;
}

}  // namespace conduit::policies
