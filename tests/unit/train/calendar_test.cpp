// The deploy calendar in a fixed zone (Europe/Paris, with its daylight saving change), freeze
// dates that end by themselves, and the errors of bad windows, dates and zones.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "common/clock.h"
#include "coordinator/train/calendar.h"

using namespace rollgate::train;

namespace {

// Unix milliseconds of "YYYY-MM-DD HH:MM" UTC.
std::uint64_t utc(const std::string& text) {
  auto day = parseLocalDate(text.substr(0, 10));
  REQUIRE(day.ok());
  std::uint64_t minutes = std::stoul(text.substr(11, 2)) * 60 + std::stoul(text.substr(14, 2));
  return (static_cast<std::uint64_t>(*day) * 1440 + minutes) * 60'000;
}

DeployCalendar paris(std::vector<std::string> windows, std::vector<FreezeDates> freezes = {}) {
  auto calendar = DeployCalendar::make("Europe/Paris", windows, freezes);
  REQUIRE_MESSAGE(calendar.ok(), (calendar.ok() ? "" : calendar.error().message));
  return *calendar;
}

}  // namespace

TEST_CASE("weekly windows parse, with day ranges, lists and daily") {
  struct Case {
    std::string text;
    std::uint32_t days;
    std::uint32_t start;
    std::uint32_t end;
  };
  for (const Case& c : {Case{"mon-fri 09:00-17:00", 0x1f, 540, 1020},
                        Case{"sat,sun 10:00-12:00", 0x60, 600, 720},
                        Case{"daily 00:00-24:00", 0x7f, 0, 1440},
                        Case{"fri-mon 22:00-23:30", 0x71, 1320, 1410},
                        Case{"wed 08:15-08:16", 0x04, 495, 496}}) {
    CAPTURE(c.text);
    auto w = parseWeeklyWindow(c.text);
    REQUIRE(w.ok());
    CHECK(w->weekdays == c.days);
    CHECK(w->startSecond == c.start * 60);
    CHECK(w->endSecond == c.end * 60);
  }
}

TEST_CASE("windows may give seconds") {
  auto w = parseWeeklyWindow("daily 12:00:30-12:01:10");
  REQUIRE(w.ok());
  CHECK(w->startSecond == 12 * 3600 + 30);
  CHECK(w->endSecond == 12 * 3600 + 70);
  auto calendar = DeployCalendar::make("UTC", {"daily 12:00:30-12:01:10"}, {});
  REQUIRE(calendar.ok());
  CHECK_FALSE(calendar->isOpen(utc("2026-12-07 12:00") + 29'999));
  CHECK(calendar->isOpen(utc("2026-12-07 12:00") + 30'000));
  CHECK(*calendar->at(utc("2026-12-07 12:00") + 30'000).changeMillis == utc("2026-12-07 12:01") + 10'000);
  CHECK_FALSE(parseWeeklyWindow("daily 12:00:60-12:01:00").ok());
}

TEST_CASE("bad windows, dates and zones are refused naming the value") {
  for (const char* text : {"mon-fri", "funday 09:00-10:00", "mon 9:00-10:00", "mon 10:00-09:00",
                           "mon 10:00-10:00", "mon 24:30-25:00", "mon 09:00"}) {
    CAPTURE(text);
    auto w = parseWeeklyWindow(text);
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().message.find(std::string("\"") + text + "\"") != std::string::npos);
  }
  CHECK_FALSE(parseLocalDate("2026-13-01").ok());
  CHECK_FALSE(parseLocalDate("2026-02-30").ok());
  CHECK_FALSE(parseLocalDate("2026-12-24x").ok());
  auto zone = DeployCalendar::make("Mars/Olympus", {}, {});
  REQUIRE_FALSE(zone.ok());
  CHECK(zone.error().message.find("Mars/Olympus") != std::string::npos);
  auto backwards = DeployCalendar::make("UTC", {}, {{"2026-12-26", "2026-12-24", "x"}});
  REQUIRE_FALSE(backwards.ok());
  CHECK(backwards.error().message.find("ends before it starts") != std::string::npos);
}

TEST_CASE("no windows is always open") {
  DeployCalendar calendar;
  CHECK(calendar.isOpen(utc("2026-12-06 03:00")));
  CHECK(calendar.at(utc("2026-12-06 03:00")).open);
  CHECK_FALSE(calendar.at(utc("2026-12-06 03:00")).changeMillis.has_value());
}

TEST_CASE("a weekday window in Paris: open, closed, and when it changes (winter, UTC+1)") {
  DeployCalendar calendar = paris({"mon-fri 09:00-17:00"});
  struct Case {
    const char* utcTime;
    bool open;
    const char* change;  // UTC of the next change
  };
  // 2026-12-07 is a Monday; Paris is UTC+1 in December.
  for (const Case& c : {Case{"2026-12-07 07:59", false, "2026-12-07 08:00"},
                        Case{"2026-12-07 08:00", true, "2026-12-07 16:00"},
                        Case{"2026-12-07 15:59", true, "2026-12-07 16:00"},
                        Case{"2026-12-07 16:00", false, "2026-12-08 08:00"},
                        Case{"2026-12-11 16:30", false, "2026-12-14 08:00"},   // Friday evening
                        Case{"2026-12-12 12:00", false, "2026-12-14 08:00"}}) {  // Saturday
    CAPTURE(c.utcTime);
    CalendarAnswer answer = calendar.at(utc(c.utcTime));
    CHECK(answer.open == c.open);
    REQUIRE(answer.changeMillis.has_value());
    CHECK(*answer.changeMillis == utc(c.change));
    if (!c.open) CHECK(answer.why == "deploy window closed (mon-fri 09:00-17:00, Europe/Paris)");
  }
  CHECK(calendar.localTime(utc("2026-12-14 08:00")) == "2026-12-14 09:00 CET");
}

TEST_CASE("the window follows Paris across the spring change (UTC+2 after 2026-03-29)") {
  DeployCalendar calendar = paris({"mon-fri 09:00-17:00"});
  // Friday 2026-03-27 09:00 is 08:00 UTC; Monday 2026-03-30 09:00 is 07:00 UTC.
  CHECK(calendar.isOpen(utc("2026-03-27 08:00")));
  CHECK_FALSE(calendar.isOpen(utc("2026-03-27 07:30")));
  CHECK(calendar.isOpen(utc("2026-03-30 07:00")));
  CHECK_FALSE(calendar.isOpen(utc("2026-03-30 06:59")));
  CHECK(*calendar.at(utc("2026-03-28 12:00")).changeMillis == utc("2026-03-30 07:00"));
}

TEST_CASE("freeze dates close the calendar and end by themselves") {
  DeployCalendar calendar =
      paris({"daily 00:00-24:00"}, {{"2026-12-24", "2026-12-26", "holidays"}});
  // The freeze starts at local midnight of the 24th (23:00 UTC on the 23rd).
  CHECK(calendar.isOpen(utc("2026-12-23 22:59")));
  CalendarAnswer frozen = calendar.at(utc("2026-12-23 23:00"));
  CHECK_FALSE(frozen.open);
  CHECK(frozen.why == "frozen from 2026-12-24 until 2026-12-26: holidays");
  REQUIRE(frozen.changeMillis.has_value());
  CHECK(*frozen.changeMillis == utc("2026-12-26 23:00"));  // local midnight starting the 27th
  CHECK(calendar.isOpen(utc("2026-12-26 23:00")));
  // A one-day freeze (no until).
  DeployCalendar oneDay = paris({}, {{"2026-12-31", "", ""}});
  CHECK_FALSE(oneDay.isOpen(utc("2026-12-31 12:00")));
  CHECK(oneDay.isOpen(utc("2027-01-01 12:00")));
}

TEST_CASE("a fake clock moving through a week sees the window open five times") {
  rollgate::FakeClock clock(utc("2026-12-06 00:00"));  // a Sunday
  DeployCalendar calendar = paris({"mon-fri 09:00-17:00"});
  int openings = 0;
  bool was = calendar.isOpen(clock.nowMillis());
  for (int i = 0; i < 7 * 24 * 4; ++i) {
    clock.advanceMillis(15 * 60'000);
    bool now = calendar.isOpen(clock.nowMillis());
    if (now && !was) ++openings;
    was = now;
  }
  CHECK(openings == 5);
}
