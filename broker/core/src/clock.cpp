#include <cstdio>
#include <ctime>

#include "conduit/core/clock.hpp"

namespace conduit::core {

std::string formatTime(TimePoint t) {
  const std::time_t tt = static_cast<std::time_t>(t.time_since_epoch().count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<TimePoint> parseTime(std::string_view text) {
  std::string s(text);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  char tail = 0;
  int consumed = 0;
  bool ok = false;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &consumed) ==
          6 &&
      static_cast<std::size_t>(consumed) == s.size()) {
    ok = true;
  } else if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &consumed) ==
                 5 &&
             static_cast<std::size_t>(consumed) == s.size()) {
    sec = 0;
    ok = true;
  } else if (std::sscanf(s.c_str(), "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
                         &consumed) == 6 &&
             static_cast<std::size_t>(consumed) == s.size()) {
    ok = true;
  } else if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &consumed) == 3 &&
             static_cast<std::size_t>(consumed) == s.size()) {
    h = mi = sec = 0;
    ok = true;
  }
  (void)tail;
  if (!ok) return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 59 || h < 0 || mi < 0 || sec < 0) return std::nullopt;
  return time_point_cast<Seconds>(sys_days{ymd}) + hours{h} + minutes{mi} + Seconds{sec};
}

std::optional<Seconds> parseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  long long total = 0;
  long long number = -1;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      number = (number < 0 ? 0 : number) * 10 + (c - '0');
      if (number > 10'000'000) return std::nullopt;
      continue;
    }
    if (number < 0) return std::nullopt;
    long long unit = 0;
    switch (c) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      default:
        return std::nullopt;
    }
    total += number * unit;
    number = -1;
  }
  if (number >= 0 || total <= 0) return std::nullopt;  // trailing number without a unit
  return Seconds{total};
}

std::string formatDuration(Seconds d) {
  long long s = d.count();
  if (s == 0) return "0s";
  std::string out;
  if (s < 0) {
    out = "-";
    s = -s;
  }
  const long long days = s / 86400, hours = s % 86400 / 3600, minutes = s % 3600 / 60,
                  secs = s % 60;
  if (days) out += std::to_string(days) + "d";
  if (hours) out += std::to_string(hours) + "h";
  if (minutes) out += std::to_string(minutes) + "m";
  if (secs) out += std::to_string(secs) + "s";
  return out;
}

}  // namespace conduit::core
