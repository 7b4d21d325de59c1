// A fleet benchmark's `--postgres`: a PostgreSQL 15 started for the run, which the coordinator's
// store (`shared`) then points at. Header-only; the benchmark links rollgate_test_postgres.
#pragma once

#include <cstdio>
#include <memory>

#include "tests/support/fleet/fleet.h"
#include "tests/support/postgres/postgres_server.h"

namespace rollgate::bench {

// False (with the reason on stderr) when PostgreSQL cannot start; `server` keeps it running.
inline bool startPostgres(std::unique_ptr<testing::PostgresServer>& server,
                          testing::SharedStore& shared) {
  auto started = testing::PostgresServer::start();
  if (!started) {
    std::fprintf(stderr, "PostgreSQL: %s\n", started.error().message.c_str());
    return false;
  }
  server = std::move(*started);
  shared.urls = {server->url()};
  shared.leaseSeconds = 10;
  return true;
}

}  // namespace rollgate::bench
