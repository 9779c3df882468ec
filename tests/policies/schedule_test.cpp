// Schedules: local time in IANA zones, daylight saving changes, inclusive starts and exclusive
// ends, ranges past midnight, and how rules with schedules match.

#include <catch2/catch.hpp>

#include <chrono>

#include "conduit/policies/policy_set.hpp"
#include "conduit/policies/schedule.hpp"

using namespace conduit;
using namespace conduit::policies;
using namespace std::chrono_literals;
using std::chrono::sys_days;

namespace {

core::Schedule schedule(std::set<int> days, int start, int end, std::string zone) {
  core::Schedule s;
  s.weekdays = std::move(days);
  s.startMinute = start;
  s.endMinute = end;
  s.timezone = std::move(zone);
  return s;
}

/// inSchedule that must succeed.
bool inside(const core::Schedule& s, core::TimePoint at) {
  auto r = inSchedule(s, at);
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r.ok());
  return *r;
}

const std::set<int> kMonFri = {1, 2, 3, 4, 5};

}  // namespace

TEST_CASE("Berlin office hours: start inclusive, end exclusive, in winter time",
          "[policies][schedule]") {
  const auto s = schedule(kMonFri, 6 * 60, 18 * 60, "Europe/Berlin");
  // Friday 28 March 2025: CET, UTC+1. 06:00 local = 05:00 UTC.
  const auto friday = sys_days{2025y / std::chrono::March / 28};
  CHECK_FALSE(inside(s, friday + 4h + 59min + 59s));
  CHECK(inside(s, friday + 5h));
  CHECK(inside(s, friday + 16h + 59min + 59s));
  CHECK_FALSE(inside(s, friday + 17h));
}

TEST_CASE("Berlin office hours follow the switch to summer time", "[policies][schedule]") {
  const auto s = schedule(kMonFri, 6 * 60, 18 * 60, "Europe/Berlin");
  // Monday 31 March 2025, the day after the change: CEST, UTC+2. 06:00 local = 04:00 UTC.
  const auto monday = sys_days{2025y / std::chrono::March / 31};
  CHECK_FALSE(inside(s, monday + 3h + 59min + 59s));
  CHECK(inside(s, monday + 4h));
  CHECK(inside(s, monday + 15h + 59min + 59s));
  CHECK_FALSE(inside(s, monday + 16h));
  // 05:00 UTC was the start on Friday; on Monday it is 07:00 local and inside either way.
  CHECK(inside(s, monday + 5h));
  // The weekend in between is outside whatever the hour.
  CHECK_FALSE(inside(s, sys_days{2025y / std::chrono::March / 29} + 10h));
  CHECK_FALSE(inside(s, sys_days{2025y / std::chrono::March / 30} + 10h));
}

TEST_CASE("Berlin office hours follow the switch back to winter time", "[policies][schedule]") {
  const auto s = schedule(kMonFri, 6 * 60, 18 * 60, "Europe/Berlin");
  const auto friday = sys_days{2025y / std::chrono::October / 24};  // CEST, UTC+2
  CHECK(inside(s, friday + 4h));
  CHECK_FALSE(inside(s, friday + 16h));
  const auto monday = sys_days{2025y / std::chrono::October / 27};  // CET, UTC+1
  CHECK_FALSE(inside(s, monday + 4h));                              // 05:00 local
  CHECK(inside(s, monday + 5h));
  CHECK(inside(s, monday + 16h));  // 17:00 local
  CHECK_FALSE(inside(s, monday + 17h));
}

TEST_CASE("the repeated and the skipped hour of a DST change", "[policies][schedule]") {
  const auto s = schedule({0}, 2 * 60, 3 * 60, "Europe/Berlin");  // Sundays 02:00-03:00
  // 26 October 2025: 03:00 CEST becomes 02:00 CET, so 02:00-03:00 local happens twice.
  const auto back = sys_days{2025y / std::chrono::October / 26};
  CHECK_FALSE(inside(s, back - 1s));    // 01:59:59 CEST
  CHECK(inside(s, back + 0h));          // 02:00 CEST
  CHECK(inside(s, back + 30min));       // 02:30 CEST
  CHECK(inside(s, back + 1h + 30min));  // 02:30 CET, the second time round
  CHECK_FALSE(inside(s, back + 2h));    // 03:00 CET
  // 30 March 2025: 02:00 CET becomes 03:00 CEST; the window does not exist that day.
  const auto forward = sys_days{2025y / std::chrono::March / 30};
  CHECK_FALSE(inside(s, forward + 59min + 59s));  // 01:59:59 CET
  CHECK_FALSE(inside(s, forward + 1h));           // 03:00 CEST
}

TEST_CASE("other zones: half-hour offsets and the Americas", "[policies][schedule]") {
  // Kolkata is UTC+5:30 all year: 09:00 local = 03:30 UTC.
  const auto india = schedule(kMonFri, 9 * 60, 17 * 60, "Asia/Kolkata");
  const auto tuesday = sys_days{2025y / std::chrono::June / 10};
  CHECK_FALSE(inside(india, tuesday + 3h + 29min + 59s));
  CHECK(inside(india, tuesday + 3h + 30min));
  CHECK_FALSE(inside(india, tuesday + 11h + 30min));
  // Chicago in June is CDT, UTC-5: Monday 20:00 local is Tuesday 01:00 UTC.
  const auto chicago = schedule({1}, 20 * 60, 21 * 60, "America/Chicago");
  CHECK(inside(chicago, tuesday + 1h));
  CHECK_FALSE(inside(chicago, tuesday + 2h));
  CHECK_FALSE(inside(schedule({2}, 20 * 60, 21 * 60, "America/Chicago"), tuesday + 1h));
}

TEST_CASE("ranges past midnight belong to the day they start on", "[policies][schedule]") {
  const auto s = schedule({1}, 22 * 60, 6 * 60, "UTC");  // Monday night 22:00 to 06:00
  const auto monday = sys_days{2025y / std::chrono::June / 9};
  CHECK_FALSE(inside(s, monday + 21h + 59min + 59s));
  CHECK(inside(s, monday + 22h));
  CHECK(inside(s, monday + 23h + 59min + 59s));
  CHECK(inside(s, monday + 24h));                // Tuesday 00:00
  CHECK(inside(s, monday + 29h + 59min + 59s));  // Tuesday 05:59:59
  CHECK_FALSE(inside(s, monday + 30h));          // Tuesday 06:00
  CHECK_FALSE(inside(s, monday + 3h));           // Monday 03:00 belongs to Sunday night
  CHECK_FALSE(inside(s, monday + 24h + 22h));    // Tuesday 22:00
}

TEST_CASE("a range may end at 24:00", "[policies][schedule]") {
  const auto s = schedule({6}, 0, 24 * 60, "UTC");  // all of Saturday
  const auto saturday = sys_days{2025y / std::chrono::June / 14};
  CHECK_FALSE(inside(s, saturday - 1s));
  CHECK(inside(s, saturday + 0s));
  CHECK(inside(s, saturday + 23h + 59min + 59s));
  CHECK_FALSE(inside(s, saturday + 24h));
}

TEST_CASE("inSchedule refuses unknown zones and malformed schedules", "[policies][schedule]") {
  const auto at = sys_days{2025y / std::chrono::June / 10} + 10h;
  auto unknown = inSchedule(schedule(kMonFri, 0, 60, "Mars/Olympus_Mons"), at);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == core::ErrorCode::invalid_argument);
  CHECK_THAT(unknown.error().message,
             Catch::StartsWith("schedule: time zone 'Mars/Olympus_Mons' cannot be used"));

  auto empty = inSchedule(schedule(kMonFri, 60, 60, "UTC"), at);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().message == "schedule: the time range is empty");
  auto badDay = inSchedule(schedule({7}, 0, 60, "UTC"), at);
  REQUIRE_FALSE(badDay.ok());
  CHECK(badDay.error().message == "schedule: weekday 7 is not 0 (Sunday) to 6");
  CHECK_FALSE(inSchedule(schedule(kMonFri, -1, 60, "UTC"), at).ok());
  CHECK_FALSE(inSchedule(schedule(kMonFri, 0, 24 * 60 + 1, "UTC"), at).ok());
  CHECK(isKnownTimeZone("Europe/Berlin"));
  CHECK_FALSE(isKnownTimeZone("Europe/Berln"));
}

TEST_CASE("describeSchedule writes schedules as policy files do", "[policies][schedule]") {
  CHECK(describeSchedule(schedule(kMonFri, 360, 1080, "Europe/Berlin")) ==
        "mon-fri 06:00-18:00 Europe/Berlin");
  CHECK(describeSchedule(schedule({6, 0}, 0, 1440, "UTC")) == "sat,sun 00:00-24:00 UTC");
  CHECK(describeSchedule(schedule({1, 3, 5}, 1320, 360, "UTC")) == "mon,wed,fri 22:00-06:00 UTC");
  CHECK(describeSchedule(schedule({0, 1, 2, 3, 4, 5, 6}, 0, 1440, "UTC")) ==
        "mon-sun 00:00-24:00 UTC");
  CHECK(describeSchedule(schedule({1, 5, 6, 0}, 0, 60, "UTC")) == "mon,fri-sun 00:00-01:00 UTC");
  CHECK(describeSchedule(schedule({}, 0, 60, "UTC")) == "never 00:00-01:00 UTC");
}

TEST_CASE("a rule outside its schedule does not match, evaluation goes on",
          "[policies][schedule]") {
  auto parsed = PolicySet::parse(R"([[rule]]
id = "office-hours"
effect = "allow"
[rule.match]
roles = ["vendor"]
[rule.schedule]
days = ["mon-fri"]
hours = "06:00-18:00"
timezone = "Europe/Berlin"

[[rule]]
id = "closed"
effect = "deny"
reason = "outside office hours"
)",
                                 "hours.toml");
  REQUIRE(parsed.ok());
  core::User user;
  user.username = "alice";
  user.roles = {core::Role::vendor};
  core::Asset asset;
  asset.name = "plc-17";

  const auto monday = sys_days{2025y / std::chrono::March / 31};  // CEST
  std::vector<TraceLine> trace;
  const Decision in =
      parsed->explain(PolicyContext{user, asset, core::Protocol::ssh, monday + 4h}, trace);
  REQUIRE(std::holds_alternative<Allow>(in));
  CHECK(std::get<Allow>(in).ruleId == "office-hours");
  REQUIRE(std::get<Allow>(in).limits.schedule.has_value());
  CHECK(std::get<Allow>(in).limits.schedule->timezone == "Europe/Berlin");
  REQUIRE(trace.size() == 1);
  CHECK(trace[0].why == "role vendor, within schedule mon-fri 06:00-18:00 Europe/Berlin; allows");

  const Decision out = parsed->explain(
      PolicyContext{user, asset, core::Protocol::ssh, monday + 3h + 59min + 59s}, trace);
  REQUIRE(std::holds_alternative<Deny>(out));
  CHECK(std::get<Deny>(out).ruleId == "closed");
  CHECK(std::get<Deny>(out).reason == "outside office hours");
  REQUIRE(trace.size() == 2);
  CHECK_FALSE(trace[0].matched);
  CHECK(trace[0].why == "outside schedule mon-fri 06:00-18:00 Europe/Berlin");
  CHECK(trace[1].matched);
}

TEST_CASE("a deny rule with a schedule denies only inside it", "[policies][schedule]") {
  auto parsed = PolicySet::parse(R"([[rule]]
id = "no-weekends"
effect = "deny"
reason = "closed on weekends"
[rule.schedule]
days = ["sat-sun"]
timezone = "Europe/Berlin"

[[rule]]
id = "open"
effect = "allow"
)",
                                 "weekend.toml");
  REQUIRE(parsed.ok());
  core::User user;
  user.username = "alice";
  core::Asset asset;
  asset.name = "plc-17";
  // Friday 27 June 2025 22:30 UTC is Saturday 00:30 in Berlin.
  const auto fridayNight = sys_days{2025y / std::chrono::June / 27} + 22h + 30min;
  const auto decisionAt = [&](core::TimePoint at) {
    return decidingRule(parsed->decide(PolicyContext{user, asset, core::Protocol::rdp, at}));
  };
  CHECK(decisionAt(fridayNight) == "no-weekends");
  CHECK(decisionAt(fridayNight - 1h) == "open");  // Friday 23:30 in Berlin
}
