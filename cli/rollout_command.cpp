// `rollgate rollout ...`, `rollgate watch ID`, `rollgate explain ID` (protocol in
// rollout_commands.h). Rendering (JSON to text) comes first and does no I/O; the commands follow.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/install_commands.h"
#include "cli/output.h"
#include "cli/rollout_commands.h"

namespace rollgate::cli {

using nlohmann::json;

namespace {

const std::string kMissing = "-";

const json& member(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// A string, number or bool as text; "-" when missing, null or empty.
std::string text(const json& value) {
  if (value.is_string()) {
    auto s = value.get<std::string>();
    return s.empty() ? kMissing : s;
  }
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_number_unsigned()) return std::to_string(value.get<std::uint64_t>());
  if (value.is_number_integer()) return std::to_string(value.get<std::int64_t>());
  if (value.is_number_float()) {
    char out[64];
    std::snprintf(out, sizeof(out), "%g", value.get<double>());
    return out;
  }
  return kMissing;
}
std::string text(const json& object, const char* key) { return text(member(object, key)); }

std::uint64_t unsignedOf(const json& value, std::uint64_t otherwise = 0) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer()) {
    auto v = value.get<std::int64_t>();
    return v < 0 ? otherwise : static_cast<std::uint64_t>(v);
  }
  if (value.is_number_float()) {
    double v = value.get<double>();
    return v >= 0 && std::isfinite(v) ? static_cast<std::uint64_t>(v) : otherwise;
  }
  return otherwise;
}

// A double as state_json.cpp writes it: a number, or "nan" / "inf" / "-inf".
std::optional<double> doubleOf(const json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (s == "inf") return HUGE_VAL;
    if (s == "-inf") return -HUGE_VAL;
    if (s == "nan") return std::nan("");
  }
  return std::nullopt;
}

// "-" for missing and NaN.
std::string number(const json& value, const char* format = "%.3g") {
  auto v = doubleOf(value);
  if (!v || std::isnan(*v)) return kMissing;
  if (std::isinf(*v)) return *v > 0 ? "inf" : "-inf";
  char out[64];
  std::snprintf(out, sizeof(out), format, *v);
  return out;
}

// "+0.029 [0.02, 0.038]" from [value, low, high] (a difference; ratios without the sign); "-" when
// the value is missing.
std::string withInterval(const json& triple, const char* format = "%+.3g") {
  if (!triple.is_array() || triple.empty()) return kMissing;
  std::string out = number(triple[0], format);
  if (out == kMissing) return out;
  if (triple.size() >= 3 && number(triple[1]) != kMissing && number(triple[2]) != kMissing) {
    out += " [" + number(triple[1]) + ", " + number(triple[2]) + "]";
  }
  return out;
}

std::string joinStrings(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// Host names from an array of strings or of objects with "host".
std::string hostList(const json& hosts) {
  if (!hosts.is_array() || hosts.empty()) return kMissing;
  std::vector<std::string> names;
  for (const auto& h : hosts) names.push_back(h.is_object() ? text(h, "host") : text(h));
  return joinStrings(names, ", ");
}

// Rows as aligned columns (two spaces apart), like Table::print.
std::string formatTable(const std::vector<std::vector<std::string>>& rows,
                        const std::string& indent = "") {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = indent;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

// "step 2/4 cluster in eu" (+ " batch 1/3" when batched).
std::string stepTitle(const json& summaryOrStep, const json& steps) {
  std::string out = "step " + text(summaryOrStep, "step");
  if (!steps.is_null()) out += "/" + text(steps);
  out += " " + text(summaryOrStep, "stage");
  std::uint64_t batches = unsignedOf(member(summaryOrStep, "batches"), 1);
  if (batches > 1) out += " batch " + text(summaryOrStep, "batch") + "/" + std::to_string(batches);
  return out + " in " + text(summaryOrStep, "region");
}

std::string timeLeft(const json& summary) {
  const json& left = member(summary, "millisLeft");
  if (!left.is_number()) return kMissing;
  return formatDurationMillis(unsignedOf(left));
}

std::string lookOf(const json& check) {
  if (member(check, "looks").is_null() && member(check, "look").is_null()) return kMissing;
  return text(check, "look") + "/" + text(check, "looks");
}

// "p 0.00031 <= alpha 0.0012" (significant at this look) or "p 0.41 > alpha 0.0012"; checks
// without a test have no alpha.
std::string pVersusAlpha(const json& check) {
  std::string p = number(member(check, "pValue"), "%.2g");
  auto alpha = doubleOf(member(check, "alphaAtLook"));
  auto pValue = doubleOf(member(check, "pValue"));
  if (!alpha || std::isnan(*alpha)) return "p " + p + " (no test)";
  std::string comparison = pValue && *pValue <= *alpha ? " <= " : " > ";
  return "p " + p + comparison + "alpha " + number(member(check, "alphaAtLook"), "%.2g");
}

// Strips "rollout <id> (<service> <version>): " that the engine puts before each event text.
std::string eventText(const json& event) {
  std::string t = text(event, "text");
  if (t.rfind("rollout ", 0) == 0) {
    auto open = t.find(" (");
    auto close = t.find("): ");
    if (open != std::string::npos && close != std::string::npos && open < close) {
      return t.substr(close + 3);
    }
  }
  return t;
}

// The 1-based step an event belongs to: its "step" key, else "step N/" in its text, else 0.
std::uint64_t eventStep(const json& event) {
  std::uint64_t step = unsignedOf(member(event, "step"), 0);
  if (step != 0) return step;
  std::string t = text(event, "text");
  auto at = t.find("step ");
  while (at != std::string::npos) {
    std::size_t i = at + 5;
    std::uint64_t n = 0;
    std::size_t digits = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
      n = n * 10 + static_cast<std::uint64_t>(t[i] - '0');
      ++i;
      ++digits;
    }
    if (digits > 0 && i < t.size() && t[i] == '/') return n;
    at = t.find("step ", at + 5);
  }
  return 0;
}

std::string clockOf(std::uint64_t unixMillis) {
  std::string full = formatUtcMillis(unixMillis);
  return full.size() > 11 ? full.substr(11, 8) : full;  // "HH:MM:SS"
}

std::string checkLine(const json& check, const json& summary) {
  return "check " + text(check, "name") + " (" + text(check, "tier") +
         "): " + text(check, "verdict") + " at look " + lookOf(check) + ", " + pVersusAlpha(check) +
         ", " + timeLeft(summary) + " left";
}

std::string stateLine(const json& summary) {
  std::string out = stepTitle(summary, member(summary, "steps")) + ": " + text(summary, "phase");
  if (text(summary, "phase") == "analyzing") {
    out += ", look " + text(summary, "look") + "/" + text(summary, "looks") + ", " +
           timeLeft(summary) + " left";
  }
  out += " [" + text(summary, "status") + "]";
  std::string hold = text(summary, "hold");
  if (hold != kMissing && hold != "none")
    out += " hold " + hold + ": " + text(summary, "holdReason");
  if (member(summary, "operatorPaused").is_boolean() &&
      member(summary, "operatorPaused").get<bool>()) {
    out += " (paused by an operator)";
  }
  return out;
}

}  // namespace

bool isTerminalRolloutStatus(const std::string& status) {
  return status == "succeeded" || status == "rolled_back" || status == "aborted" ||
         status == "failed";
}

int rolloutExitCode(const std::string& status) { return status == "succeeded" ? 0 : kExitFailure; }

std::string formatUtcMillis(std::uint64_t unixMillis) {
  if (unixMillis == 0) return kMissing;
  std::time_t seconds = static_cast<std::time_t>(unixMillis / 1000);
  std::tm tm{};
  if (::gmtime_r(&seconds, &tm) == nullptr) return kMissing;
  char out[64];
  std::snprintf(out, sizeof(out), "%04d-%02d-%02d %02d:%02d:%02d.%03u", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<unsigned>(unixMillis % 1000));
  return out;
}

std::string formatDurationMillis(std::uint64_t millis) {
  std::uint64_t s = (millis + 999) / 1000;
  char out[64];
  if (s < 60) {
    std::snprintf(out, sizeof(out), "%llus", static_cast<unsigned long long>(s));
  } else if (s < 3600) {
    std::snprintf(out, sizeof(out), "%llum%02llus", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  } else {
    std::snprintf(out, sizeof(out), "%lluh%02llum", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60));
  }
  return out;
}

std::string renderRolloutStarted(const json& summary) {
  return "rollout " + text(summary, "id") + " started: " + text(summary, "service") + " " +
         text(summary, "version") + ", " + text(summary, "steps") + " steps\n" +
         "first: " + stepTitle(summary, member(summary, "steps")) + ", targets " +
         hostList(member(summary, "targets")) + ", comparison " +
         hostList(member(summary, "comparison")) + "\n" +
         (text(summary, "smallFleetWarning") != kMissing
              ? "warning: " + text(summary, "smallFleetWarning") + "\n"
              : std::string{});
}

std::string renderRolloutList(const json& listDocument) {
  const json& rollouts = member(listDocument, "rollouts");
  if (!rollouts.is_array() || rollouts.empty()) return "no rollouts\n";
  std::vector<std::vector<std::string>> rows{
      {"ID", "SERVICE", "VERSION", "STATUS", "STEP", "STAGE", "PHASE", "STARTED", "ENDED"}};
  for (const auto& r : rollouts) {
    rows.push_back({text(r, "id"), text(r, "service"), text(r, "version"), text(r, "status"),
                    text(r, "step") + "/" + text(r, "steps"), text(r, "stage"), text(r, "phase"),
                    formatUtcMillis(unsignedOf(member(r, "startedMillis"))),
                    formatUtcMillis(unsignedOf(member(r, "finishedMillis")))});
  }
  return formatTable(rows);
}

std::string renderRolloutStatus(const json& summary) {
  std::string out = "rollout " + text(summary, "id") + ": " + text(summary, "service") + " " +
                    text(summary, "version") + ", " + text(summary, "status") + "\n";
  out += stateLine(summary) + "\n";
  out += "started " + formatUtcMillis(unsignedOf(member(summary, "startedMillis")));
  if (unsignedOf(member(summary, "finishedMillis")) != 0) {
    out += ", ended " + formatUtcMillis(unsignedOf(member(summary, "finishedMillis")));
  }
  out += "\n";
  if (text(summary, "endReason") != kMissing)
    out += "end reason: " + text(summary, "endReason") + "\n";
  std::string note = text(summary, "comparisonNote");

  std::vector<std::vector<std::string>> hosts{
      {"HOST", "ROLE", "REGION", "CLUSTER", "FROM", "RELEASE", "HEALTHY", "IN FLIGHT", "ROLLBACK"}};
  auto addHosts = [&](const json& group, const char* role) {
    if (!group.is_array()) return;
    for (const auto& h : group) {
      hosts.push_back({text(h, "host"), role, text(h, "region"), text(h, "cluster"),
                       text(h, "fromRelease"), text(h, "release"), text(h, "healthy"),
                       text(h, "pending"), text(h, "rollback")});
    }
  };
  addHosts(member(summary, "targets"), "target");
  addHosts(member(summary, "comparison"), "comparison");
  out += "\n";
  if (hosts.size() > 1) {
    out += formatTable(hosts);
  } else {
    out += "no hosts\n";
  }
  if (note != kMissing) out += "comparison: " + note + "\n";

  const json& checks = member(summary, "checks");
  out += "\n";
  if (!checks.is_array() || checks.empty()) {
    out += "no check results yet\n";
    return out;
  }
  std::vector<std::vector<std::string>> rows{{"CHECK", "TIER", "TEST", "VERDICT", "LOOK", "P-VALUE",
                                              "ALPHA", "EFFECT", "CANARY", "BASELINE"}};
  for (const auto& c : checks) {
    rows.push_back(
        {text(c, "name"), text(c, "tier"), text(c, "test"), text(c, "verdict"), lookOf(c),
         number(member(c, "pValue"), "%.2g"), number(member(c, "alphaAtLook"), "%.2g"),
         withInterval(member(c, "effect")),
         number(member(c, "canaryValue"), "%.4g") + " (n " + text(c, "canaryCount") + ")",
         number(member(c, "baselineValue"), "%.4g") + " (n " + text(c, "baselineCount") + ")"});
  }
  out += formatTable(rows);
  return out;
}

std::string renderRolloutExplain(const json& describe) {
  const json& summary = member(describe, "rollout");
  std::string out = "rollout " + text(summary, "id") + ": " + text(summary, "service") + " " +
                    text(summary, "version") + ", " + text(summary, "status");
  if (text(summary, "endReason") != kMissing) out += ": " + text(summary, "endReason");
  out += "\n";

  // Steps from the plan; a document without a plan still explains the steps its checks name.
  std::map<std::uint64_t, json> steps;
  if (member(describe, "plan").is_array()) {
    for (const auto& s : member(describe, "plan")) steps[unsignedOf(member(s, "step"))] = s;
  }
  // Each check's last result per step, in the order the checks first appear.
  std::map<std::uint64_t, std::vector<std::pair<std::string, json>>> lastChecks;
  if (member(describe, "checks").is_array()) {
    for (const auto& c : member(describe, "checks")) {
      std::uint64_t step = unsignedOf(member(c, "step"));
      if (steps.find(step) == steps.end()) steps[step] = c;
      auto& list = lastChecks[step];
      std::string name = text(member(c, "result"), "name");
      bool replaced = false;
      for (auto& [n, last] : list) {
        if (n == name) {
          last = c;
          replaced = true;
        }
      }
      if (!replaced) list.emplace_back(name, c);
    }
  }
  std::map<std::uint64_t, std::vector<json>> eventsByStep;
  if (member(describe, "events").is_array()) {
    std::uint64_t current = 0;
    for (const auto& e : member(describe, "events")) {
      std::uint64_t step = eventStep(e);
      if (step != 0) current = step;
      eventsByStep[current].push_back(e);
    }
  }
  auto eventLines = [&](std::uint64_t step) {
    std::string lines;
    for (const auto& e : eventsByStep[step]) {
      lines += "    " + clockOf(unsignedOf(member(e, "atMillis"))) + "  " + eventText(e) + "\n";
    }
    return lines;
  };

  if (!eventsByStep[0].empty()) out += "\nbefore the first step:\n" + eventLines(0);

  const std::uint64_t currentStep = unsignedOf(member(summary, "step"));
  const json& totalSteps = member(summary, "steps");
  for (const auto& [stepNumber, step] : steps) {
    std::string state;
    if (currentStep == 0 || stepNumber < currentStep) {
      state = currentStep == 0 ? kMissing : "passed";
    } else if (stepNumber == currentStep) {
      state = text(summary, "phase");
    } else {
      state = "not started";
    }
    json titled = step;
    titled["step"] = stepNumber;
    out += "\n" + stepTitle(titled, totalSteps) + ": " + state + "\n";
    out += "  hosts:      " +
           hostList(member(step, "targets").is_null() ? member(step, "canaryHosts")
                                                      : member(step, "targets")) +
           "\n";
    out += "  comparison: " +
           hostList(member(step, "comparison").is_null() ? member(step, "comparisonHosts")
                                                         : member(step, "comparison")) +
           (text(step, "comparisonNote") != kMissing ? " (" + text(step, "comparisonNote") + ")"
                                                     : std::string{}) +
           "\n";
    const auto& checks = lastChecks[stepNumber];
    if (checks.empty()) {
      out += "  checks: no result at this step\n";
    } else {
      out += "  checks (last result at this step):\n";
      for (const auto& [name, entry] : checks) {
        const json& r = member(entry, "result");
        out += "    " + text(r, "name") + " [" + text(r, "tier") + ", " + text(r, "metric") + ", " +
               text(r, "test") + "]: " + text(r, "verdict") + " at look " + lookOf(r) + " (" +
               clockOf(unsignedOf(member(entry, "atMillis"))) + ")\n";
        out += "      statistic " + number(member(r, "statistic"), "%.4g") + ", " +
               pVersusAlpha(r) + " at look " + lookOf(r) +
               (text(r, "significant") == "yes" ? ": significant" : "") + "\n";
        out += "      effect " + text(r, "effectName") + " " + withInterval(member(r, "effect")) +
               ", " + text(r, "ratioName") + " " + withInterval(member(r, "ratio"), "%.3g") +
               "; large enough: " + text(r, "effectLargeEnough") + "\n";
        out += "      canary " + number(member(r, "canaryValue"), "%.4g") + " (n " +
               text(r, "canaryCount") + ", events " + text(r, "canaryEvents") + "), baseline " +
               number(member(r, "baselineValue"), "%.4g") + " (n " + text(r, "baselineCount") +
               ", events " + text(r, "baselineEvents") + ")\n";
        if (text(r, "explanation") != kMissing) out += "      " + text(r, "explanation") + "\n";
      }
    }
    if (eventsByStep[stepNumber].empty()) {
      out += "  decision: -\n";
    } else {
      out += "  decision:\n" + eventLines(stepNumber);
    }
  }
  return out;
}

std::string renderRolloutHistory(const json& describe) {
  const json& events = member(describe, "events");
  std::string out = "rollout " + text(member(describe, "rollout"), "id") + " history\n";
  if (!events.is_array() || events.empty()) return out + "no events\n";
  std::vector<std::vector<std::string>> rows{{"TIME (UTC)", "HOST", "KIND", "EVENT"}};
  for (const auto& e : events) {
    rows.push_back({formatUtcMillis(unsignedOf(member(e, "atMillis"))), text(e, "host"),
                    text(e, "kind"), eventText(e)});
  }
  return out + formatTable(rows);
}

std::vector<std::string> rolloutWatchChanges(const json& previous, const json& current) {
  std::vector<std::string> lines;
  if (previous.is_null()) {
    lines.push_back("rollout " + text(current, "id") + ": " + text(current, "service") + " " +
                    text(current, "version"));
  }
  auto stateKey = [](const json& s) {
    return text(s, "status") + "|" + text(s, "step") + "|" + text(s, "batch") + "|" +
           text(s, "phase") + "|" + text(s, "hold") + "|" + text(s, "operatorPaused");
  };
  if (previous.is_null() || stateKey(previous) != stateKey(current)) {
    lines.push_back(stateLine(current));
  }
  std::map<std::string, std::string> before;
  if (member(previous, "checks").is_array() && text(previous, "step") == text(current, "step")) {
    for (const auto& c : member(previous, "checks")) {
      before[text(c, "name")] = text(c, "verdict") + "|" + lookOf(c);
    }
  }
  if (member(current, "checks").is_array()) {
    for (const auto& c : member(current, "checks")) {
      auto it = before.find(text(c, "name"));
      if (it == before.end() || it->second != text(c, "verdict") + "|" + lookOf(c)) {
        lines.push_back("  " + checkLine(c, current));
      }
    }
  }
  if (isTerminalRolloutStatus(text(current, "status")) &&
      (previous.is_null() || text(previous, "status") != text(current, "status"))) {
    lines.push_back("rollout " + text(current, "id") + " ended " + text(current, "status") +
                    (text(current, "endReason") != kMissing ? ": " + text(current, "endReason")
                                                            : std::string{}));
  }
  return lines;
}

namespace {

// ---- I/O

json parseDocument(const AdminReply& reply, const std::string& what) {
  const auto* doc = std::get_if<JsonDocument>(&reply.body);
  if (doc == nullptr) fail(kExitFailure, "unexpected reply to " + what + " (not a JSON document)");
  auto parsed = json::parse(doc->text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    fail(kExitFailure, "the coordinator's reply to " + what + " is not a JSON object");
  }
  return parsed;
}

AdminReply callOrFail(const AdminOptions& admin, AdminRequest request) {
  auto client = AdminClient::connect(admin);
  if (!client) fail(kExitUnavailable, client.error().message);
  auto reply = (*client)->call(std::move(request));
  if (!reply) fail(kExitUnavailable, reply.error().message);
  if (const auto* error = std::get_if<AdminError>(&reply->body)) fail(kExitFailure, error->message);
  return std::move(*reply);
}

json describeOrFail(const AdminOptions& admin, const std::string& id) {
  AdminRequest request;
  request.body = DescribeRollout{id};
  return parseDocument(callOrFail(admin, std::move(request)), "describe rollout " + id);
}

void printText(const std::string& text) {
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
}

void printJson(const json& document) {
  std::printf("%s\n", document.dump(2, ' ', false, json::error_handler_t::replace).c_str());
}

// Follows a rollout until it ends: DescribeRollout every second. On a terminal stdout the screen
// is redrawn; otherwise (or with `linesTo` stderr for --wait --json) a line per change. A
// coordinator that cannot be reached is retried for a minute (it may be restarting). Returns the
// last summary.
json follow(const AdminOptions& admin, const std::string& id, std::FILE* linesTo) {
  constexpr int kMaxUnavailableSeconds = 60;
  const bool redraw = linesTo == stdout && ::isatty(STDOUT_FILENO) == 1;
  std::unique_ptr<AdminClient> client;
  json previous;
  int unavailable = 0;
  while (true) {
    std::string problem;
    if (!client) {
      auto connected = AdminClient::connect(admin);
      if (connected) {
        client = std::move(*connected);
      } else {
        problem = connected.error().message;
      }
    }
    std::optional<AdminReply> reply;
    if (client) {
      AdminRequest request;
      request.body = DescribeRollout{id};
      auto answer = client->call(std::move(request));
      if (answer) {
        reply = std::move(*answer);
      } else {
        problem = answer.error().message;
        client.reset();  // a late reply must not be taken for the next request's
      }
    }
    if (!reply) {
      if (unavailable == 0) {
        std::fprintf(stderr, "rollgate: %s; retrying for up to %d s\n", problem.c_str(),
                     kMaxUnavailableSeconds);
      }
      if (++unavailable > kMaxUnavailableSeconds) fail(kExitUnavailable, problem);
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    unavailable = 0;
    if (const auto* error = std::get_if<AdminError>(&reply->body))
      fail(kExitFailure, error->message);
    json summary = member(parseDocument(*reply, "describe rollout " + id), "rollout");
    if (redraw) {
      std::printf("\033[H\033[2J%s", renderRolloutStatus(summary).c_str());
      std::fflush(stdout);
    } else {
      for (const auto& line : rolloutWatchChanges(previous, summary)) {
        std::fprintf(linesTo, "%s\n", line.c_str());
      }
      std::fflush(linesTo);
    }
    if (isTerminalRolloutStatus(text(summary, "status"))) {
      if (redraw) {
        std::printf("\nrollout %s ended %s\n", id.c_str(), text(summary, "status").c_str());
      }
      return summary;
    }
    previous = std::move(summary);
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

std::string readTextFile(const std::string& path, const std::string& what) {
  if (path.empty()) return {};
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(kExitUsage, what + " " + path + ": cannot open: " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) fail(kExitUsage, what + " " + path + ": read failed");
  return content.str();
}

struct StartOptions {
  std::string service;
  std::string version;
  std::string artifact;
  std::string signature;
  std::string planFile;
  std::string gatesFile;
  std::string canaryHost;
  bool wait = false;
  bool json = false;
};

void start(const AdminOptions& admin, const StartOptions& options) {
  std::string planToml = readTextFile(options.planFile, "plan file");
  std::string gatesToml = readTextFile(options.gatesFile, "gates file");
  if (::access(options.artifact.c_str(), R_OK) != 0) {
    fail(kExitUsage, "artifact " + options.artifact + ": " + std::strerror(errno));
  }
  auto sha256 = pushArtifactFile(admin, options.artifact, options.service, options.version,
                                 options.signature, true);
  if (!sha256) fail(kExitFailure, sha256.error().message);
  std::fprintf(stderr, "artifact %s %s stored (sha256 %s)\n", options.service.c_str(),
               options.version.c_str(), sha256->c_str());

  AdminRequest request;
  request.body =
      StartRollout{options.service, options.version, planToml, gatesToml, options.canaryHost};
  json reply = parseDocument(callOrFail(admin, std::move(request)), "start rollout");
  const json& summary = member(reply, "rollout");
  const std::string id = text(summary, "id");
  if (!options.wait) {
    if (options.json) {
      printJson(reply);
    } else {
      printText(renderRolloutStarted(summary));
    }
    return;
  }
  if (id == kMissing) fail(kExitFailure, "the coordinator's reply to start rollout has no id");
  if (!options.json) printText(renderRolloutStarted(summary));
  json last = follow(admin, id, options.json ? stderr : stdout);
  if (options.json) printJson(json{{"rollout", last}});
  int code = rolloutExitCode(text(last, "status"));
  if (code != 0) throw CLI::RuntimeError(code);
}

void addWatchCommand(CLI::App& parent, AdminOptions& admin, const std::string& description) {
  auto* watch = parent.add_subcommand("watch", description);
  auto id = std::make_shared<std::string>();
  watch->add_option("ID", *id, "rollout id")->required();
  watch->callback([&admin, id] {
    json last = follow(admin, *id, stdout);
    int code = rolloutExitCode(text(last, "status"));
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

void addExplainCommand(CLI::App& parent, AdminOptions& admin, const std::string& description) {
  auto* explain = parent.add_subcommand("explain", description);
  struct Options {
    std::string id;
    bool json = false;
  };
  auto options = std::make_shared<Options>();
  explain->add_option("ID", options->id, "rollout id")->required();
  explain->add_flag("--json", options->json, "print JSON");
  explain->callback([&admin, options] {
    json doc = describeOrFail(admin, options->id);
    if (options->json) {
      printJson(doc);
    } else {
      printText(renderRolloutExplain(doc));
    }
  });
}

}  // namespace

void addRolloutCommands(CLI::App& app, AdminOptions& admin) {
  auto* rollout = app.add_subcommand(
      "rollout", "staged rollouts with statistical gates: start, follow, explain, control");
  rollout->require_subcommand(1);

  auto startOptions = std::make_shared<StartOptions>();
  auto* startCommand = rollout->add_subcommand(
      "start", "push a build and roll it out: canary, cluster, region, fleet");
  startCommand->add_option("--service", startOptions->service, "service name")->required();
  startCommand->add_option("--version", startOptions->version, "the new release")->required();
  startCommand->add_option("--artifact", startOptions->artifact, "the build to push")->required();
  startCommand->add_option("--signature", startOptions->signature,
                           "build signature file (default: ARTIFACT.sig when it exists)");
  startCommand->add_option("--plan", startOptions->planFile, "plan TOML (default plan if absent)");
  startCommand->add_option("--gates", startOptions->gatesFile,
                           "gates TOML (default gates if absent)");
  startCommand->add_option("--canary-host", startOptions->canaryHost, "the canary host");
  startCommand->add_flag("--wait", startOptions->wait,
                         "follow it until it ends; exit 0 only if it succeeded");
  startCommand->add_flag("--json", startOptions->json, "print JSON");
  startCommand->callback([&admin, startOptions] { start(admin, *startOptions); });

  struct ReadOptions {
    std::string id;
    bool json = false;
  };
  auto statusOptions = std::make_shared<ReadOptions>();
  auto* status = rollout->add_subcommand("status", "a rollout's step, hosts and checks");
  status->add_option("ID", statusOptions->id, "rollout id")->required();
  status->add_flag("--json", statusOptions->json, "print JSON");
  status->callback([&admin, statusOptions] {
    json doc = describeOrFail(admin, statusOptions->id);
    if (statusOptions->json) {
      printJson(json{{"rollout", member(doc, "rollout")}});
    } else {
      printText(renderRolloutStatus(member(doc, "rollout")));
    }
  });

  auto listJson = std::make_shared<bool>(false);
  auto* list = rollout->add_subcommand("list", "every rollout, newest first");
  list->add_flag("--json", *listJson, "print JSON");
  list->callback([&admin, listJson] {
    AdminRequest request;
    request.body = ListRollouts{};
    json doc = parseDocument(callOrFail(admin, std::move(request)), "list rollouts");
    if (*listJson) {
      printJson(doc);
    } else {
      printText(renderRolloutList(doc));
    }
  });

  addWatchCommand(*rollout, admin, "follow a rollout live until it ends");
  addExplainCommand(*rollout, admin, "why the rollout did what it did, step by step");

  auto historyOptions = std::make_shared<ReadOptions>();
  auto* history = rollout->add_subcommand("history", "a rollout's events, timestamped");
  history->add_option("ID", historyOptions->id, "rollout id")->required();
  history->add_flag("--json", historyOptions->json, "print JSON");
  history->callback([&admin, historyOptions] {
    json doc = describeOrFail(admin, historyOptions->id);
    if (historyOptions->json) {
      printJson(json{
          {"id", member(member(doc, "rollout"), "id")},
          {"events", member(doc, "events").is_array() ? member(doc, "events") : json::array()}});
    } else {
      printText(renderRolloutHistory(doc));
    }
  });

  const std::pair<const char*, RolloutAction::Action> kActions[] = {
      {"pause", RolloutAction::Action::kPause},
      {"resume", RolloutAction::Action::kResume},
      {"promote", RolloutAction::Action::kPromote},
      {"rollback", RolloutAction::Action::kRollback}};
  const char* kDescriptions[] = {
      "hold a rollout: no further step starts until it is resumed",
      "resume a paused rollout (a step held for not enough data analyses again)",
      "pass the current step over a warn or not-enough-data hold",
      "roll back every host the rollout changed"};
  for (std::size_t i = 0; i < std::size(kActions); ++i) {
    auto* command = rollout->add_subcommand(kActions[i].first, kDescriptions[i]);
    auto id = std::make_shared<std::string>();
    command->add_option("ID", *id, "rollout id")->required();
    const auto action = kActions[i].second;
    command->callback([&admin, id, action] {
      AdminRequest request;
      request.body = RolloutAction{*id, action};
      AdminReply reply = callOrFail(admin, std::move(request));
      const auto* ok = std::get_if<AdminOk>(&reply.body);
      if (ok == nullptr) fail(kExitFailure, "unexpected reply to a rollout action on " + *id);
      std::printf("%s\n", ok->message.c_str());
    });
  }

  addWatchCommand(app, admin, "follow a rollout live until it ends (rollout watch)");
  addExplainCommand(app, admin, "why a rollout did what it did (rollout explain)");
}

}  // namespace rollgate::cli
