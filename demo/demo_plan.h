// The demo fleet's rollout plan: stage durations in seconds (production defaults are minutes).
// Used by the demo (demo/rollgate_demo.cpp) and by bench/train, which simulates a day of
// rollouts of this plan's length.
#pragma once

namespace rollgate::demo {

inline constexpr const char* kDemoPlanToml = R"(# Stage durations in seconds, for a demo; production defaults are minutes.
window_seconds = 1
silence_seconds = 6
[canary]
warmup_seconds = 2
analysis_seconds = 10
[cluster]
warmup_seconds = 1
analysis_seconds = 5
[region]
warmup_seconds = 1
analysis_seconds = 5
batch = "100%"
[fleet]
warmup_seconds = 1
analysis_seconds = 5
batch = "100%"
)";

}  // namespace rollgate::demo
