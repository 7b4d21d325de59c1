#include "coordinator/store/record_codec.h"

#include "common/codec.h"

namespace rollgate::coordinator {

nlohmann::json servicesToJson(const std::vector<ServiceRelease>& services) {
  auto out = nlohmann::json::array();
  for (const auto& s : services) {
    out.push_back({{"service", s.service}, {"active", s.activeRelease}, {"releases", s.releases}});
  }
  return out;
}

std::vector<ServiceRelease> servicesFromJson(const std::string& text) {
  std::vector<ServiceRelease> out;
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_array()) return out;
  for (const auto& s : json) {
    ServiceRelease release;
    release.service = s.value("service", "");
    release.activeRelease = s.value("active", "");
    release.releases = s.value("releases", std::vector<std::string>{});
    out.push_back(std::move(release));
  }
  return out;
}

nlohmann::json abortToJson(const AbortState& state) {
  nlohmann::json rollBack = nlohmann::json::object();
  for (const auto& [host, services] : state.rollBackByHost) rollBack[host] = servicesToJson(services);
  return {{"id", state.abort.abortId},
          {"rollouts", state.abort.rolloutIds},
          {"reason", state.abort.reason},
          {"roll_back", rollBack},
          {"created_ms", state.createdMillis},
          {"requested_by", state.requestedBy},
          {"targets", state.targets},
          {"acked_ms", state.ackedAtMillis}};
}

AbortState abortFromJson(const nlohmann::json& json) {
  AbortState state;
  state.abort.abortId = json.value("id", std::uint64_t{0});
  state.abort.rolloutIds = json.value("rollouts", std::vector<std::string>{});
  state.abort.reason = json.value("reason", "");
  if (json.contains("roll_back") && json["roll_back"].is_object()) {
    for (const auto& [host, services] : json["roll_back"].items()) {
      state.rollBackByHost[host] = servicesFromJson(services.dump());
    }
  }
  state.createdMillis = json.value("created_ms", std::uint64_t{0});
  state.requestedBy = json.value("requested_by", "");
  state.targets = json.value("targets", std::set<std::string>{});
  state.ackedAtMillis = json.value("acked_ms", std::map<std::string, std::uint64_t>{});
  return state;
}

nlohmann::json refsToJson(const std::map<std::uint64_t, CommandRef>& refs) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [id, ref] : refs) {
    out[std::to_string(id)] = {
        {"rollout", ref.rolloutId}, {"epoch", ref.epoch}, {"sequence", ref.sequence}};
  }
  return out;
}

std::map<std::uint64_t, CommandRef> refsFromJson(const std::string& text) {
  std::map<std::uint64_t, CommandRef> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return out;
  for (const auto& [id, ref] : j.items()) {
    out[std::stoull(id)] = CommandRef{ref.value("rollout", ""),
                                      ref.value("sequence", std::uint64_t{0}),
                                      ref.value("epoch", std::uint64_t{0})};
  }
  return out;
}

std::vector<std::string> namesFromJson(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& name : j) {
    if (name.is_string()) out.push_back(name.get<std::string>());
  }
  return out;
}

std::string encodeWindow(const TelemetryWindow& window) {
  return encode(AgentMessage{TelemetryReport{{window}}});
}

WindowRow flatWindowRow(const std::string& host, const TelemetryWindow& window,
                        std::string_view frame) {
  return WindowRow{host,
                   window.service,
                   window.release,
                   window.startMillis,
                   window.endMillis,
                   window.requests,
                   window.status5xx,
                   frame.empty() ? encodeWindow(window) : std::string(frame)};
}

void packWindowRow(WindowRow& row, std::string& scratch) {
  // Packed: the disk and the database take about a third of the flat frame's bytes (496 of a
  // typical window become 158), and the ingest thread's cost goes with them. Rows stored before
  // hold flat frames; decodeWindow reads both.
  if (isPackedFrame(bytesOf(row.encoded))) return;
  packFrameInto(bytesOf(row.encoded), scratch);
  row.encoded.assign(scratch);
}

WindowRow windowRow(const std::string& host, const TelemetryWindow& window,
                    std::string_view frame) {
  WindowRow row = flatWindowRow(host, window, frame);
  std::string scratch;
  packWindowRow(row, scratch);
  return row;
}

Result<TelemetryWindow> decodeWindow(const std::string& blob) {
  Bytes bytes = bytesOf(blob);
  std::string flat;
  if (isPackedFrame(bytes)) {
    auto unpacked = unpackFrame(bytes, kMaxAgentMessageBytes);
    if (!unpacked) return makeError("stored telemetry window: " + unpacked.error().message);
    flat = std::move(*unpacked);
    bytes = bytesOf(flat);
  }
  auto message = decodeAgentMessage(bytes);
  if (!message) return message.error();
  const auto* report = std::get_if<TelemetryReport>(&*message);
  if (report == nullptr || report->windows.size() != 1) {
    return makeError("stored telemetry window is not a one-window report");
  }
  return report->windows.front();
}


}  // namespace rollgate::coordinator
