// The JSON names of the rollout engine's state enums, shared by the stored state (state_json.cpp)
// and the read model (read_model.cpp) so that each enum has one table of names.
// Thread-safety: constant tables.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "coordinator/rollout/rollout.h"

namespace rollgate::rollout {

// RolloutStatus and StepPhase are spelled by statusName() and phaseName() (rollout.cpp).
// Both enums are std::uint8_t; a value outside the enum is named "?".
template <typename E>
void enumFromName(const nlohmann::json& j, E& value, std::string_view (*name)(E)) {
  const auto text = j.get<std::string>();
  for (int i = 0; i < 256 && text != "?"; ++i) {
    if (name(static_cast<E>(i)) == text) {
      value = static_cast<E>(i);
      return;
    }
  }
  throw std::runtime_error("unknown name \"" + text + "\"");
}
inline void to_json(nlohmann::json& j, RolloutStatus value) { j = std::string(statusName(value)); }
inline void from_json(const nlohmann::json& j, RolloutStatus& value) {
  enumFromName(j, value, &statusName);
}
inline void to_json(nlohmann::json& j, StepPhase value) { j = std::string(phaseName(value)); }
inline void from_json(const nlohmann::json& j, StepPhase& value) {
  enumFromName(j, value, &phaseName);
}

NLOHMANN_JSON_SERIALIZE_ENUM(Hold, {{Hold::kNone, "none"},
                                    {Hold::kWarn, "warn"},
                                    {Hold::kNotEnoughData, "not_enough_data"}})
NLOHMANN_JSON_SERIALIZE_ENUM(CommandKind, {{CommandKind::kInstall, "install"},
                                           {CommandKind::kRestartBaseline, "restart_baseline"},
                                           {CommandKind::kRollback, "rollback"}})
NLOHMANN_JSON_SERIALIZE_ENUM(RollbackState, {{RollbackState::kNone, "none"},
                                             {RollbackState::kPending, "pending"},
                                             {RollbackState::kDone, "done"},
                                             {RollbackState::kFailed, "failed"},
                                             {RollbackState::kTimedOut, "timed_out"}})

}  // namespace rollgate::rollout
