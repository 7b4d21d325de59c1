// The JSON names of the rollout engine's state enums, shared by the stored state (state_json.cpp)
// and the read model (read_model.cpp) so that each enum has one table of names.
// Thread-safety: constant tables.
#pragma once

#include <nlohmann/json.hpp>

#include "coordinator/rollout/rollout.h"

namespace rollgate::rollout {

NLOHMANN_JSON_SERIALIZE_ENUM(RolloutStatus,
                             {{RolloutStatus::kPending, "pending"},
                              {RolloutStatus::kInstalling, "installing"},
                              {RolloutStatus::kWarmingUp, "warming_up"},
                              {RolloutStatus::kAnalyzing, "analyzing"},
                              {RolloutStatus::kWaitingForOperator, "waiting_for_operator"},
                              {RolloutStatus::kRollingBack, "rolling_back"},
                              {RolloutStatus::kSucceeded, "succeeded"},
                              {RolloutStatus::kRolledBack, "rolled_back"},
                              {RolloutStatus::kAborted, "aborted"},
                              {RolloutStatus::kFailed, "failed"}})
NLOHMANN_JSON_SERIALIZE_ENUM(StepPhase, {{StepPhase::kNotStarted, "not_started"},
                                         {StepPhase::kInstalling, "installing"},
                                         {StepPhase::kWarmingUp, "warming_up"},
                                         {StepPhase::kAnalyzing, "analyzing"},
                                         {StepPhase::kPassed, "passed"},
                                         {StepPhase::kFailed, "failed"}})
NLOHMANN_JSON_SERIALIZE_ENUM(Hold, {{Hold::kNone, "none"},
                                    {Hold::kWarn, "warn"},
                                    {Hold::kNotEnoughData, "not_enough_data"}})
NLOHMANN_JSON_SERIALIZE_ENUM(CommandKind, {{CommandKind::kInstall, "install"},
                                           {CommandKind::kRestartBaseline, "restart_baseline"},
                                           {CommandKind::kRollback, "rollback"}})
NLOHMANN_JSON_SERIALIZE_ENUM(RollbackState, {{RollbackState::kNone, "none"},
                                             {RollbackState::kPending, "pending"},
                                             {RollbackState::kDone, "done"},
                                             {RollbackState::kFailed, "failed"}})


}  // namespace rollgate::rollout
