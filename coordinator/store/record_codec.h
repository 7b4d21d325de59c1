// How the stores keep records that are not columns of their own: a host's services, an abort's
// state, a rollout's command refs and host lists as JSON, and a telemetry window as the one-window
// TelemetryReport frame it arrived in, packed (common/codec.h: packFrame). SqliteStore and PostgresStore keep them alike, so a state
// migrated from one to the other reads back the same.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/messages.h"
#include "common/result.h"
#include "coordinator/aborts.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator {

nlohmann::json servicesToJson(const std::vector<ServiceRelease>& services);
std::vector<ServiceRelease> servicesFromJson(const std::string& text);
nlohmann::json abortToJson(const AbortState& state);
AbortState abortFromJson(const nlohmann::json& json);
nlohmann::json refsToJson(const std::map<std::uint64_t, CommandRef>& refs);
std::map<std::uint64_t, CommandRef> refsFromJson(const std::string& text);
std::vector<std::string> namesFromJson(const std::string& text);
std::string encodeWindow(const TelemetryWindow& window);
// `window` of `host` as stored; `frame`: the one-window report its agent sent (empty: encoded),
// kept packed.
WindowRow windowRow(const std::string& host, const TelemetryWindow& window,
                    std::string_view frame = {});
// windowRow with its frame still flat, as the agent sent it: packWindowRow packs it before it is
// stored (TelemetryStore does that on its ingest thread, off the loop).
WindowRow flatWindowRow(const std::string& host, const TelemetryWindow& window,
                        std::string_view frame = {});
// Packs `row.encoded` in place when it is flat (a packed one is left as it is), through
// `scratch`: the row's buffer is reused, so packing allocates nothing once `scratch` has grown.
void packWindowRow(WindowRow& row, std::string& scratch);
// A stored window, packed or (as stored before packing) flat.
Result<TelemetryWindow> decodeWindow(const std::string& blob);

}  // namespace rollgate::coordinator
