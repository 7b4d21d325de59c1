// The detection benchmark's signal rows (tests/support/fleet/signal_catalog.h): the Sentry faults
// and A/A builds on a SentryFleet (Debian's python3-sentry-sdk in the deployed application, the
// Sentry fleet's gates), and the Prometheus regression and A/A builds on an nginx WebFleet scraped
// by a real prometheus (the default gates plus the Prometheus check). A part whose prerequisites
// are missing prints its rows as not run.
// Thread-safety: none; one thread.
#pragma once

#include <csignal>

namespace rollgate::bench {

struct SignalArgs {
  bool faults = true;
  bool aa = true;
  int faultRuns = 1;
  int sentryAa = 5;
  int prometheusAa = 2;
  const volatile std::sig_atomic_t* stopRequested = nullptr;
};

// Each returns 0 when its rows ran, 2 when they could not run here, 1 when the fleet failed.
int runSentryRows(const SignalArgs& args);
int runPrometheusRows(const SignalArgs& args);

}  // namespace rollgate::bench
