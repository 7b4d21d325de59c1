// Trains: the release trains of every service (coordinator/train's logic) driven from the
// coordinator's loop. It keeps candidates and each train's state in the Store, starts the train's
// rollouts through Rollouts (the service's plan and gates from `train enable`; canary-only ones for
// a bisection), reads their outcome from the Store, and records every train action with its reason
// (train_events, and the event log as kind "train" for the webhooks and the console).
//
// Resumption: a train's state and the candidates an action changed are saved in one transaction
// before the action is carried out. A coordinator killed after deciding a rollout and before it
// started resumes in `starting`: it adopts the rollout of that version if Rollouts had created it
// (created after the decision), else starts it then; a rollout in flight is followed to its end
// from its stored record. So no commit is deployed twice and none is skipped.
//
// Failure policy: a state that cannot be saved is not acted on (the action is decided again at
// the next tick, logged as an error); an event that cannot be recorded is logged as an error.
// Thread-safety: one thread (the coordinator's loop).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"
#include "coordinator/rollouts.h"
#include "coordinator/store/store.h"
#include "coordinator/train/train.h"

namespace rollgate::coordinator {

class Trains {
 public:
  // Requires: every argument outlives this.
  Trains(Store& store, Rollouts& rollouts, const Clock& clock, Logger logger);

  // Loads every train and resumes it. Call after Rollouts::open().
  Status open();
  // Moves every train: follows its rollout, starts the next one when nothing stops it.
  void tick();
  // An operator's or CI's request; the reply is JSON (docs/train.md).
  Result<std::string> handle(const TrainRequest& request, const std::string& operatorName);

 private:
  struct Entry {
    std::unique_ptr<train::Train> train;
    std::vector<train::Candidate> candidates;
    bool startInFlight = false;
  };
  Result<Entry*> entryFor(const std::string& service, bool create);
  Result<std::vector<train::Candidate>> loadCandidates(const std::string& service);
  train::Conditions conditions(Entry& entry);
  void follow(Entry& entry);
  void adoptStarted(Entry& entry);
  // Saves the state and changed candidates, records events, then starts a rollout if asked.
  Status apply(Entry& entry, const train::Actions& actions);
  void startRollout(Entry& entry, const train::StartTrainRollout& start);
  void record(const std::string& service, const train::TrainEvent& event,
              const std::string& rolloutId);
  Result<std::string> statusJson(Entry& entry);

  Store& store_;
  Rollouts& rollouts_;
  const Clock& clock_;
  Logger logger_;
  std::map<std::string, Entry> trains_;
};

}  // namespace rollgate::coordinator
