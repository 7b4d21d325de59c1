// Copies a coordinator's SQLite state into PostgreSQL (`rollgate-coordinator migrate-store`), so
// that a team can move an existing coordinator to shared, highly available storage: every table,
// table by table, in one PostgreSQL transaction, and every stored artifact's bytes. The SQLite
// state directory is locked meanwhile (no coordinator may run on it) and left unchanged; the
// PostgreSQL database must hold no rollgate state yet and no coordinator may lead on it. The
// lease's epoch continues from the SQLite store's, so agents accept the new leader's commands.
// Thread-safety: one thread.
#pragma once

#include <functional>
#include <string>

#include "common/result.h"

namespace rollgate::coordinator {

// Returns a summary ("copied 12 hosts, 3 rollouts, ... into postgresql://..."); `progress`
// hears a line per table.
Result<std::string> migrateSqliteToPostgres(const std::string& stateDir, const std::string& url,
                                            const std::function<void(const std::string&)>& progress);

}  // namespace rollgate::coordinator
