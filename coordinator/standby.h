// Standby: a coordinator that shares PostgreSQL while another one leads. It binds only the admin
// endpoint and answers every request "standby", naming the leader it knows (the CLI then asks
// that one, or the next endpoint in its list); it binds neither the agent nor the broadcast
// endpoint, so agents connecting to it find no coordinator there and try their next endpoint. With
// [metrics] listen it serves /metrics: rollgate_leader 0, whether it reaches the lease, and the
// leading epoch; with [console] enabled its console answers 503 naming the leader. It tries to
// take the lease every quarter of the lease time, and returns once it has (its /metrics and
// console listeners closed, for the leader's to bind).
// Thread-safety: one thread; the stop flag may be set from any thread or a signal handler.
#pragma once

#include <atomic>

#include "common/clock.h"
#include "common/logging.h"
#include "common/result.h"
#include "coordinator/coordinator_config.h"
#include "coordinator/store/leader_lease.h"

namespace rollgate::coordinator {

// Serves as a standby until `lease` is taken (true) or `stop` is set (false). Errors: the admin
// endpoint cannot be bound or the key read (PostgreSQL being unreachable is not an error: it is
// logged and tried again).
Result<bool> serveAsStandby(const CoordinatorConfig& config, LeaderLease& lease,
                            const std::atomic<bool>& stop, const Clock& clock, Logger logger);

}  // namespace rollgate::coordinator
