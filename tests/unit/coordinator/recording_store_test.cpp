// RecordingStore over an in-memory store: the decisions it turns into typed notifications (and
// only once saved), the rollouts and checks it follows for /metrics, abort acknowledgement
// latencies counted once per host, and each write timed.
#include <doctest/doctest.h>

#include "coordinator/notify/notify_config.h"
#include "coordinator/recording_store.h"
#include "coordinator/rollout/read_model.h"
#include "tests/unit/coordinator/fake_store.h"

using namespace rollgate;
using namespace rollgate::coordinator;
using rollgate::coordinator::testing::FakeStore;

namespace {

struct Recorded {
  FakeStore* fake = nullptr;
  std::uint64_t micros = 0;
  std::vector<notify::Notification> sent;
  std::unique_ptr<RecordingStore> store;

  Recorded() {
    auto inner = std::make_unique<FakeStore>();
    fake = inner.get();
    store = std::make_unique<RecordingStore>(std::move(inner), [this] { return micros += 150; });
    store->onDecision([this](notify::Notification n) { sent.push_back(std::move(n)); });
  }
  metrics::MetricsSnapshot snapshot() const {
    metrics::MetricsSnapshot s;
    store->fill(s);
    return s;
  }
};

RolloutRecord rolloutRecord(const std::string& status, bool finished) {
  RolloutRecord r;
  r.id = "r4";
  r.seq = 4;
  r.status = status;
  r.finished = finished;
  r.updatedMillis = 5000;
  return r;
}

}  // namespace

TEST_CASE("recording store: engine events become typed notifications with the rollout's service") {
  Recorded rec;
  RolloutRecord created = rolloutRecord("pending", false);
  created.service = "web";
  created.version = "1.1.0";
  REQUIRE(rec.store->createRollout(created).ok());
  CHECK(rec.snapshot().rolloutsByStatus.at("pending") == 1);

  rollout::RecordEvent event;
  event.rolloutId = "r4";
  event.kind = RolloutEventKind::kStepFailed;
  event.step = 1;
  event.check = "http_5xx_ratio";
  event.look = 3;
  event.text = "canary 5xx ratio above the comparison's";
  event.atMillis = 4000;
  REQUIRE(rec.store->recordEvent(EventRecord{4000, "step_failed", "", "r4",
                                             rollout::storedEventMessage(event)})
              .ok());
  REQUIRE(rec.sent.size() == 1);
  const auto& n = rec.sent[0];
  CHECK(n.kind == "step_failed");
  CHECK(n.rolloutId == "r4");
  CHECK(n.service == "web");
  CHECK(n.version == "1.1.0");
  CHECK(n.step == 1);
  CHECK(n.check == "http_5xx_ratio");
  CHECK(n.look == 3);
  CHECK(n.text == "canary 5xx ratio above the comparison's");

  // A coordinator event about no rollout keeps its message as text.
  REQUIRE(rec.store->recordEvent(EventRecord{4100, "freeze", "", "", "incident 7"}).ok());
  CHECK(rec.sent.back().kind == "freeze");
  CHECK(rec.sent.back().text == "incident 7");

  // An event the store refused is no decision.
  rec.fake->failing.insert("recordEvent");
  CHECK(!rec.store->recordEvent(EventRecord{4200, "unfreeze", "", "", "by ops"}).ok());
  CHECK(rec.sent.size() == 2);
}

TEST_CASE("recording store: checks of a running rollout, its terminal status, and then nothing") {
  Recorded rec;
  RolloutRecord created = rolloutRecord("pending", false);
  created.service = "web";
  REQUIRE(rec.store->createRollout(created).ok());
  REQUIRE(rec.store->saveRollout(rolloutRecord("analyzing", false)).ok());
  CheckRecord check;
  check.rolloutId = "r4";
  check.step = 2;
  check.result.name = "latency";
  check.result.look = 2;
  check.result.pValue = 0.03;
  check.result.alphaAtLook = 0.01;
  check.result.verdict = stats::Verdict::kPass;
  REQUIRE(rec.store->recordCheck(check).ok());
  check.result.look = 3;
  check.result.pValue = 0.002;
  check.result.verdict = stats::Verdict::kFail;
  REQUIRE(rec.store->recordCheck(check).ok());
  auto s = rec.snapshot();
  CHECK(s.rolloutsByStatus.at("analyzing") == 1);
  CHECK(s.rolloutsByStatus.count("pending") == 0);
  REQUIRE(s.checks.size() == 1);  // the last look only
  CHECK(s.checks[0].service == "web");
  CHECK(s.checks[0].step == 2);
  CHECK(s.checks[0].look == 3);
  CHECK(s.checks[0].pValue == doctest::Approx(0.002));
  CHECK(s.checks[0].alphaAtLook == doctest::Approx(0.01));
  CHECK(s.checks[0].verdict == "fail");
  CHECK(rec.sent.empty());

  REQUIRE(rec.store->saveRollout(rolloutRecord("rolled_back", true)).ok());
  REQUIRE(rec.sent.size() == 1);
  CHECK(rec.sent[0].kind == "rollout_rolled_back");
  CHECK(rec.sent[0].service == "web");
  s = rec.snapshot();
  CHECK(s.rolloutsByStatus.empty());
  CHECK(s.checks.empty());
  CHECK(s.rolloutsFinished.at("rolled_back") == 1);
  // Saved again (a late result): no second notification, no second count.
  REQUIRE(rec.store->saveRollout(rolloutRecord("rolled_back", true)).ok());
  CHECK(rec.sent.size() == 1);
  CHECK(rec.snapshot().rolloutsFinished.at("rolled_back") == 1);
}

TEST_CASE("recording store: abort acknowledgements counted once per host; writes timed") {
  Recorded rec;
  AbortState abort;
  abort.abort.abortId = 3;
  abort.createdMillis = 10'000;
  abort.targets = {"a", "b"};
  abort.ackedAtMillis["a"] = 10'040;
  REQUIRE(rec.store->saveAbort(abort).ok());
  abort.ackedAtMillis["b"] = 12'000;
  REQUIRE(rec.store->saveAbort(abort).ok());
  REQUIRE(rec.store->saveAbort(abort).ok());
  auto s = rec.snapshot();
  CHECK(s.abortAckSeconds.count == 2);
  CHECK(s.abortAckSeconds.sum == doctest::Approx(2.04));
  REQUIRE(s.storeWriteSeconds.count("save_abort") == 1);
  CHECK(s.storeWriteSeconds.at("save_abort").count == 3);
  CHECK(s.storeWriteSeconds.at("save_abort").sum == doctest::Approx(3 * 0.00015));
}

TEST_CASE("recording store: the backtest's journals and labels reach the store; writes timed") {
  Recorded rec;
  REQUIRE(rec.store->appendJournal("r4", {"{\"a\":1}", "{\"b\":2}"}).ok());
  REQUIRE(rec.fake->journals.count("r4") == 1);
  CHECK(rec.fake->journals.at("r4").size() == 2);
  auto usage = rec.store->pruneJournals(1 << 20);
  REQUIRE(usage.ok());
  CHECK(usage->rollouts == 1);
  CHECK(usage->bytes == 14);
  RolloutLabelRecord label{"r4", "bad", "reverted by hand", "alice", 9000};
  REQUIRE(rec.store->saveLabel(label).ok());
  auto read = rec.store->labelOf("r4");
  REQUIRE(read.ok());
  REQUIRE(read->has_value());
  CHECK(**read == label);
  RevertRecord revert;
  revert.id = "v1";
  revert.service = "web";
  rec.fake->reverts["v1"] = revert;
  auto reverts = rec.store->revertsOf("web");
  REQUIRE(reverts.ok());
  CHECK(reverts->size() == 1);
  auto s = rec.snapshot();
  for (const char* op : {"append_journal", "prune_journals", "save_label"}) {
    CAPTURE(op);
    REQUIRE(s.storeWriteSeconds.count(op) == 1);
    CHECK(s.storeWriteSeconds.at(op).count == 1);
  }
}

TEST_CASE("recording store: the release train's events become train_<kind> notifications") {
  Recorded rec;
  REQUIRE(rec.store
              ->recordTrainEvent(TrainEventRecord{7000, "web", "bad_commit", "c0ffee05", "r9",
                                                  "commit c0ffee05 (1.1.5) by dev5 is bad"})
              .ok());
  REQUIRE(rec.sent.size() == 1);
  CHECK(rec.sent[0].kind == "train_bad_commit");
  CHECK(rec.sent[0].service == "web");
  CHECK(rec.sent[0].rolloutId == "r9");
  CHECK(rec.sent[0].text == "commit c0ffee05 (1.1.5) by dev5 is bad");
  CHECK(rec.sent[0].atMillis == 7000);
  notify::WebhookConfig everyDecision;  // no kinds: the default ones
  CHECK(everyDecision.wants("train_bad_commit"));
  CHECK(everyDecision.wants("train_stopped"));
  CHECK_FALSE(everyDecision.wants("train_picked"));
}
