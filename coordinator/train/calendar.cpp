#include "coordinator/train/calendar.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <set>
#include <sstream>

namespace rollgate::train {
namespace {

constexpr std::array<const char*, 7> kDayNames{"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
constexpr std::int64_t kSecondsPerDay = 86400;

std::optional<std::uint32_t> dayIndex(const std::string& name) {
  for (std::size_t i = 0; i < kDayNames.size(); ++i) {
    if (name == kDayNames[i]) return static_cast<std::uint32_t>(i);
  }
  return std::nullopt;
}

std::optional<std::uint32_t> parseClock(const std::string& text) {
  if ((text.size() != 5 && text.size() != 8) || text[2] != ':' ||
      (text.size() == 8 && text[5] != ':')) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i % 3 != 2 && (text[i] < '0' || text[i] > '9')) return std::nullopt;
  }
  auto two = [&](std::size_t at) { return static_cast<std::uint32_t>((text[at] - '0') * 10 + (text[at + 1] - '0')); };
  std::uint32_t hours = two(0), minutes = two(3), seconds = text.size() == 8 ? two(6) : 0;
  if (minutes > 59 || seconds > 59 || hours > 24 || (hours == 24 && (minutes != 0 || seconds != 0))) {
    return std::nullopt;
  }
  return hours * 3600 + minutes * 60 + seconds;
}

}  // namespace

Result<WeeklyWindow> parseWeeklyWindow(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Error{"deploy window \"" + text + "\": " + why +
                 " (expected like \"mon-fri 09:00-17:00\", \"sat,sun 10:00-12:00\" or "
                 "\"daily 00:00-24:00\")"};
  };
  auto space = text.find(' ');
  if (space == std::string::npos) return bad("no time range");
  std::string days = text.substr(0, space);
  std::string range = text.substr(space + 1);
  WeeklyWindow window;
  window.text = text;
  if (days == "daily") {
    window.weekdays = 0x7f;
  } else {
    std::stringstream parts(days);
    std::string part;
    while (std::getline(parts, part, ',')) {
      auto dash = part.find('-');
      if (dash == std::string::npos) {
        auto day = dayIndex(part);
        if (!day) return bad("unknown day \"" + part + "\"");
        window.weekdays |= 1u << *day;
        continue;
      }
      auto first = dayIndex(part.substr(0, dash));
      auto last = dayIndex(part.substr(dash + 1));
      if (!first || !last) return bad("unknown day range \"" + part + "\"");
      for (std::uint32_t d = *first;; d = (d + 1) % 7) {  // "fri-mon" wraps over the weekend
        window.weekdays |= 1u << d;
        if (d == *last) break;
      }
    }
    if (window.weekdays == 0) return bad("no day");
  }
  auto dash = range.find('-');
  if (dash == std::string::npos) return bad("time range \"" + range + "\" has no '-'");
  auto start = parseClock(range.substr(0, dash));
  auto end = parseClock(range.substr(dash + 1));
  if (!start || !end) return bad("times must be HH:MM or HH:MM:SS, 00:00 to 24:00");
  if (*end <= *start) return bad("the end must be after the start (a window ends by midnight)");
  window.startSecond = *start;
  window.endSecond = *end;
  return window;
}

Result<std::int64_t> parseLocalDate(const std::string& text) {
  std::istringstream in(text);
  date::year_month_day ymd{};
  in >> date::parse("%F", ymd);
  if (in.fail() || !ymd.ok() || in.peek() != std::char_traits<char>::eof()) {
    return Error{"date \"" + text + "\": expected YYYY-MM-DD"};
  }
  return static_cast<std::int64_t>(date::sys_days(ymd).time_since_epoch().count());
}

Result<DeployCalendar> DeployCalendar::make(const std::string& timeZone,
                                            const std::vector<std::string>& windows,
                                            const std::vector<FreezeDates>& freezes) {
  DeployCalendar calendar;
  calendar.zoneName_ = timeZone.empty() ? "UTC" : timeZone;
  if (!timeZone.empty() && timeZone != "UTC") {
    try {
      calendar.zone_ = date::locate_zone(timeZone);
    } catch (const std::exception& e) {
      return Error{"time zone \"" + timeZone + "\": not in the time zone database (" +
                   e.what() + "); expected a name like \"Europe/Paris\" or \"UTC\""};
    }
  }
  for (const std::string& text : windows) {
    auto window = parseWeeklyWindow(text);
    if (!window) return window.error();
    calendar.windows_.push_back(*window);
  }
  for (const FreezeDates& freeze : freezes) {
    auto from = parseLocalDate(freeze.from);
    if (!from) return Error{"freeze from: " + from.error().message};
    auto until = parseLocalDate(freeze.until.empty() ? freeze.from : freeze.until);
    if (!until) return Error{"freeze until: " + until.error().message};
    if (*until < *from) {
      return Error{"freeze from " + freeze.from + " until " + freeze.until +
                   ": it ends before it starts"};
    }
    FreezeDates stored = freeze;
    if (stored.until.empty()) stored.until = stored.from;
    calendar.freezes_.push_back(stored);
    calendar.freezeDays_.emplace_back(*from, *until);
  }
  return calendar;
}

DeployCalendar::Local DeployCalendar::toLocal(std::uint64_t millis) const {
  using namespace std::chrono;
  date::sys_seconds sys{duration_cast<seconds>(milliseconds(millis))};
  std::int64_t localSeconds = sys.time_since_epoch().count();
  if (zone_ != nullptr) localSeconds += duration_cast<seconds>(zone_->get_info(sys).offset).count();
  Local local;
  local.dayNumber = localSeconds >= 0 ? localSeconds / kSecondsPerDay
                                      : -((-localSeconds + kSecondsPerDay - 1) / kSecondsPerDay);
  local.second = static_cast<std::uint32_t>(localSeconds - local.dayNumber * kSecondsPerDay);
  // 1970-01-01 was a Thursday (3 with Monday = 0).
  local.weekday = static_cast<std::uint32_t>(((local.dayNumber % 7) + 7 + 3) % 7);
  return local;
}

std::uint64_t DeployCalendar::fromLocal(std::int64_t dayNumber, std::uint32_t second) const {
  using namespace std::chrono;
  date::local_seconds local{seconds(dayNumber * kSecondsPerDay + second)};
  std::int64_t sysSeconds = local.time_since_epoch().count();
  if (zone_ != nullptr) {
    // A time that does not exist (the spring gap) is the transition instant; an ambiguous one
    // (the autumn overlap) is its first occurrence.
    sysSeconds = duration_cast<seconds>(
                     zone_->to_sys(local, date::choose::earliest).time_since_epoch())
                     .count();
  }
  return static_cast<std::uint64_t>(sysSeconds) * 1000;
}

std::optional<std::size_t> DeployCalendar::freezeAt(const Local& local) const {
  for (std::size_t i = 0; i < freezeDays_.size(); ++i) {
    if (local.dayNumber >= freezeDays_[i].first && local.dayNumber <= freezeDays_[i].second) {
      return i;
    }
  }
  return std::nullopt;
}

bool DeployCalendar::windowAt(const Local& local) const {
  if (windows_.empty()) return true;
  return std::any_of(windows_.begin(), windows_.end(), [&](const WeeklyWindow& w) {
    return (w.weekdays & (1u << local.weekday)) != 0 && local.second >= w.startSecond &&
           local.second < w.endSecond;
  });
}

bool DeployCalendar::isOpen(std::uint64_t nowMillis) const {
  Local local = toLocal(nowMillis);
  return !freezeAt(local) && windowAt(local);
}

CalendarAnswer DeployCalendar::at(std::uint64_t nowMillis) const {
  CalendarAnswer answer;
  Local local = toLocal(nowMillis);
  auto freeze = freezeAt(local);
  answer.open = !freeze && windowAt(local);
  if (freeze) {
    const FreezeDates& f = freezes_[*freeze];
    answer.why = "frozen from " + f.from + " until " + f.until +
                 (f.reason.empty() ? std::string() : ": " + f.reason);
  } else if (!answer.open) {
    std::string texts;
    for (const WeeklyWindow& w : windows_) texts += (texts.empty() ? "" : ", ") + w.text;
    answer.why = "deploy window closed (" + texts + ", " + zoneName_ + ")";
  }
  // The instants where the answer can change: window edges and freeze edges (local midnights),
  // over the next 370 local days; the first one where it differs is the change.
  std::set<std::uint64_t> edges;
  for (std::int64_t day = local.dayNumber; day <= local.dayNumber + 370; ++day) {
    for (const WeeklyWindow& w : windows_) {
      edges.insert(fromLocal(day, w.startSecond));
      edges.insert(fromLocal(day, w.endSecond));
    }
  }
  for (const auto& [from, until] : freezeDays_) {
    edges.insert(fromLocal(from, 0));
    edges.insert(fromLocal(until + 1, 0));
  }
  for (std::uint64_t edge : edges) {
    if (edge <= nowMillis) continue;
    if (isOpen(edge) != answer.open) {
      answer.changeMillis = edge;
      break;
    }
  }
  return answer;
}

std::string DeployCalendar::localTime(std::uint64_t millis) const {
  using namespace std::chrono;
  date::sys_time<minutes> sys{duration_cast<minutes>(milliseconds(millis))};
  if (zone_ == nullptr) return date::format("%F %R UTC", sys);
  return date::format("%F %R %Z", date::make_zoned(zone_, sys));
}

}  // namespace rollgate::train
