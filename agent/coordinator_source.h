// CoordinatorSource: fetches an artifact from the coordinator's artifact store over the agent
// socket's endpoint, in chunks, with credit-based flow control: at most `creditChunks` requests
// are outstanding, so the coordinator never queues more than that for one host and a slow host
// never stalls the others. Runs on the installer's worker thread with its own DEALER connection
// (authenticated by the host's CURVE key, like the main one). Resumes from the staging file's size,
// so a reconnect or an agent restart continues where the transfer stopped.
// Thread-safety: one fetch at a time per object; `cancel` may be set from any thread.
#pragma once

#include <zmq.hpp>

#include "agent/install/artifact_source.h"

namespace rollgate::agent {

struct CoordinatorSourceOptions {
  std::string endpoint;          // the coordinator's agent endpoint (for messages)
  std::vector<std::string> endpoints;  // every coordinator's, when several share PostgreSQL
  std::string secretKey;         // this host's CURVE keys (Z85)
  std::string publicKey;
  std::string serverKey;         // the coordinator's public key
  std::uint32_t creditChunks = 8;
  std::uint32_t stallTimeoutMillis = 10'000;  // no chunk this long: re-request what is missing
  std::uint32_t giveUpMillis = 300'000;       // no progress at all this long: fail
};

class CoordinatorSource final : public install::ArtifactSource {
 public:
  CoordinatorSource(zmq::context_t& context, CoordinatorSourceOptions options)
      : context_(context), options_(std::move(options)) {}
  // Handles "coordinator", and an empty source (the coordinator's store is the default); the
  // request's sha256 names the artifact.
  bool handles(std::string_view url) const override { return url.empty() || url == "coordinator"; }
  Status fetch(const install::FetchRequest& request, const install::ProgressFn& progress,
               const std::atomic<bool>& cancel) override;

 private:
  zmq::context_t& context_;
  CoordinatorSourceOptions options_;
};

}  // namespace rollgate::agent
