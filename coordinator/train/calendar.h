// Deploy calendar: when the train may start a rollout. A weekly set of windows in one time zone
// ("mon-fri 09:00-17:00" in Europe/Paris) and one-off freeze dates that end by themselves (a
// freeze from 2026-12-24 until 2026-12-26 is over at the start of 2026-12-27, local time). No
// windows means always open; a freeze wins over a window. Daylight saving time is the zone's
// (Debian's tzdata through libhowardhinnant-date): a window's times are local wall-clock times.
// Pure: every question takes the time (Unix milliseconds). Thread-safety: a plain value (the time
// zone database it points to is immutable once loaded).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace date {
class time_zone;
}

namespace rollgate::train {

struct WeeklyWindow {
  std::uint32_t weekdays = 0;   // bit d set: open on weekday d (0 = Monday .. 6 = Sunday)
  std::uint32_t startSecond = 0;  // seconds after local midnight, inclusive
  std::uint32_t endSecond = 0;    // exclusive; 86400 = midnight at the end of the day
  std::string text;               // as written ("mon-fri 09:00-17:00")
  bool operator==(const WeeklyWindow&) const = default;
};

struct FreezeDates {
  std::string from;   // "2026-12-24", local date, inclusive
  std::string until;  // "2026-12-26", local date, inclusive
  std::string reason;
  bool operator==(const FreezeDates&) const = default;
};

// Where the calendar stands at a given time.
struct CalendarAnswer {
  bool open = true;
  std::string why;  // when closed: "deploy window closed (mon-fri 09:00-17:00, Europe/Paris)"
                    // or "frozen from 2026-12-24 until 2026-12-26: holidays"
  // When it opens next (closed) or closes next (open); nullopt: never within a year.
  std::optional<std::uint64_t> changeMillis;
  bool operator==(const CalendarAnswer&) const = default;
};

class DeployCalendar {
 public:
  DeployCalendar() = default;  // always open
  // Fails naming the bad zone, window or date.
  static Result<DeployCalendar> make(const std::string& timeZone,
                                     const std::vector<std::string>& windows,
                                     const std::vector<FreezeDates>& freezes);

  CalendarAnswer at(std::uint64_t nowMillis) const;
  bool isOpen(std::uint64_t nowMillis) const;
  // "2026-12-07 09:00 CET" in the calendar's zone (UTC when it has none).
  std::string localTime(std::uint64_t millis) const;

  const std::string& timeZone() const { return zoneName_; }
  const std::vector<WeeklyWindow>& windows() const { return windows_; }
  const std::vector<FreezeDates>& freezes() const { return freezes_; }

 private:
  struct Local {
    std::int64_t dayNumber = 0;  // days since 1970-01-01, local
    std::uint32_t weekday = 0;   // 0 = Monday
    std::uint32_t second = 0;    // second of the local day
  };
  Local toLocal(std::uint64_t millis) const;
  std::uint64_t fromLocal(std::int64_t dayNumber, std::uint32_t second) const;
  std::optional<std::size_t> freezeAt(const Local& local) const;
  bool windowAt(const Local& local) const;

  std::string zoneName_;
  const date::time_zone* zone_ = nullptr;  // null: UTC
  std::vector<WeeklyWindow> windows_;
  std::vector<FreezeDates> freezes_;
  std::vector<std::pair<std::int64_t, std::int64_t>> freezeDays_;  // inclusive local day numbers
};

// "mon-fri 09:00-17:00", "sat,sun 10:00-12:00", "daily 00:00-24:00"; seconds may be given
// ("daily 12:00:30-12:01:10") for short windows in tests and demos.
Result<WeeklyWindow> parseWeeklyWindow(const std::string& text);
// "2026-12-24" -> days since 1970-01-01.
Result<std::int64_t> parseLocalDate(const std::string& text);

}  // namespace rollgate::train
