#include "agent/lb/haproxy_state.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <sstream>
#include <vector>

namespace rollgate::lb {
namespace {

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, sep)) out.push_back(field);
  if (!line.empty() && line.back() == sep) out.emplace_back();
  return out;
}

std::vector<std::string> splitSpaces(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string word;
  while (in >> word) out.push_back(word);
  return out;
}

int columnOf(const std::vector<std::string>& header, const std::string& name) {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

bool toInt(const std::string& text, std::int64_t& out) {
  if (text.empty()) {
    out = 0;
    return true;
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

std::string rowName(const std::string& backend, const std::string& server) {
  return "server " + backend + "/" + server;
}

}  // namespace

namespace {

Result<ServerStat> statOfRow(const std::vector<std::string>& header,
                             const std::vector<std::string>& fields, const std::string& backend,
                             const std::string& server) {
  int scur = columnOf(header, "scur");
  int status = columnOf(header, "status");
  int weight = columnOf(header, "weight");
  if (scur < 0 || status < 0 || weight < 0 ||
      static_cast<std::size_t>(std::max({scur, status, weight})) >= fields.size()) {
    return makeError("show stat: the row of " + rowName(backend, server) +
                     " lacks scur, status or weight");
  }
  ServerStat stat;
  stat.status = fields[static_cast<std::size_t>(status)];
  if (!toInt(fields[static_cast<std::size_t>(scur)], stat.currentSessions) ||
      !toInt(fields[static_cast<std::size_t>(weight)], stat.weight)) {
    return makeError("show stat: " + rowName(backend, server) + ": scur \"" +
                     fields[static_cast<std::size_t>(scur)] + "\" or weight \"" +
                     fields[static_cast<std::size_t>(weight)] + "\" is not a number");
  }
  return stat;
}

// Calls `row(header, fields)` for every data row of a `show stat` answer; false: no header.
template <typename Row>
bool forEachStatRow(const std::string& csv, Row row) {
  std::istringstream in(csv);
  std::string line;
  std::vector<std::string> header;
  while (std::getline(in, line)) {
    if (line.rfind("# ", 0) == 0) {
      header = split(line.substr(2), ',');
      continue;
    }
    if (line.empty() || header.empty()) continue;
    auto fields = split(line, ',');
    if (fields.size() < 2) continue;
    if (!row(header, fields)) break;
  }
  return !header.empty();
}

Error notStatsCsv(const std::string& csv) {
  return Error{"show stat: not a stats CSV (answer began with \"" + csv.substr(0, 80) + "\")"};
}

}  // namespace

Result<ServerStat> parseServerStat(const std::string& csv, const std::string& backend,
                                   const std::string& server) {
  std::optional<Result<ServerStat>> found;
  bool csvOk = forEachStatRow(csv, [&](const auto& header, const auto& fields) {
    if (fields[0] != backend || fields[1] != server) return true;
    found = statOfRow(header, fields, backend, server);
    return false;
  });
  if (found) return *found;
  if (!csvOk) return notStatsCsv(csv);
  return makeError("show stat: no " + rowName(backend, server) +
                   " (check the backend and server names)");
}

Result<std::vector<NamedServerStat>> parseBackendServerStats(const std::string& csv,
                                                             const std::string& backend) {
  std::vector<NamedServerStat> servers;
  std::optional<Error> bad;
  bool csvOk = forEachStatRow(csv, [&](const auto& header, const auto& fields) {
    if (fields[0] != backend || fields[1] == "BACKEND" || fields[1] == "FRONTEND") return true;
    auto stat = statOfRow(header, fields, backend, fields[1]);
    if (!stat) {
      bad = stat.error();
      return false;
    }
    servers.push_back({fields[1], *stat});
    return true;
  });
  if (bad) return *bad;
  if (!csvOk) return notStatsCsv(csv);
  return servers;
}

Result<ServerState> parseServerState(const std::string& text, const std::string& backend,
                                     const std::string& server) {
  std::istringstream in(text);
  std::string line;
  std::vector<std::string> header;
  while (std::getline(in, line)) {
    if (line.rfind("# ", 0) == 0) {
      header = splitSpaces(line.substr(2));
      continue;
    }
    if (header.empty()) continue;
    auto fields = splitSpaces(line);
    int be = columnOf(header, "be_name");
    int srv = columnOf(header, "srv_name");
    if (be < 0 || srv < 0) return makeError("show servers state: no be_name or srv_name column");
    if (fields.size() <= static_cast<std::size_t>(std::max(be, srv))) continue;
    if (fields[static_cast<std::size_t>(be)] != backend ||
        fields[static_cast<std::size_t>(srv)] != server) {
      continue;
    }
    const char* names[] = {"srv_op_state", "srv_admin_state", "srv_uweight", "srv_iweight"};
    std::int64_t values[4] = {};
    for (int i = 0; i < 4; ++i) {
      int column = columnOf(header, names[i]);
      if (column < 0 || static_cast<std::size_t>(column) >= fields.size() ||
          !toInt(fields[static_cast<std::size_t>(column)], values[i])) {
        return makeError(std::string("show servers state: ") + rowName(backend, server) +
                         ": no number in column " + names[i]);
      }
    }
    ServerState state;
    state.operationalState = static_cast<std::uint32_t>(values[0]);
    state.adminState = static_cast<std::uint32_t>(values[1]);
    state.userWeight = values[2];
    state.initialWeight = values[3];
    return state;
  }
  if (header.empty()) {
    return makeError("show servers state " + backend + ": unexpected answer \"" +
                     text.substr(0, 80) + "\"");
  }
  return makeError("show servers state: no " + rowName(backend, server) +
                   " (check the backend and server names)");
}

bool statusServesNewRequests(const std::string& status) {
  return status.rfind("UP", 0) == 0 || status == "no check";
}

bool statusTakesTraffic(const std::string& status) {
  return status.rfind("UP", 0) == 0 || status == "DRAIN" || status == "no check";
}

}  // namespace rollgate::lb
