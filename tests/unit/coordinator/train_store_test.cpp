// The SQLite store's release-train tables: a train's state and its candidates saved together and
// kept across a reopen, candidates in seq order, one commit per service, events newest-limited.
#include <doctest/doctest.h>

#include "coordinator/store/sqlite_store.h"
#include "tests/unit/coordinator/coordinator_parts.h"

namespace rollgate::coordinator {
namespace {

using testing::TempDir;

TEST_CASE("the SQLite store keeps trains, candidates and train events across a reopen") {
  TempDir dir;
  {
    auto store = SqliteStore::open(dir.path.string());
    REQUIRE(store.ok());
    REQUIRE((*store)->saveTrain("web", "{\"v\":1}",
                                {TrainCandidateRow{"web", 2, "bbb", "{\"c\":2}"},
                                 TrainCandidateRow{"web", 1, "aaa", "{\"c\":1}"}})
                .ok());
    REQUIRE((*store)->saveTrain("web", "{\"v\":2}", {TrainCandidateRow{"web", 1, "aaa", "{\"c\":11}"}}).ok());
    REQUIRE((*store)->saveTrain("db", "{\"v\":3}", {}).ok());
    // The same commit twice in one service is refused, and nothing of that save is kept.
    auto twice = (*store)->saveTrain("web", "{\"v\":99}", {TrainCandidateRow{"web", 3, "aaa", "{}"}});
    CHECK_FALSE(twice.ok());
    for (int i = 1; i <= 5; ++i) {
      REQUIRE((*store)->recordTrainEvent(TrainEventRecord{static_cast<std::uint64_t>(i), "web", "picked",
                                                          "aaa", "r" + std::to_string(i), "e" + std::to_string(i)})
                  .ok());
    }
    REQUIRE((*store)->recordTrainEvent(TrainEventRecord{9, "db", "enabled", "", "", "other"}).ok());
  }
  auto store = SqliteStore::open(dir.path.string());
  REQUIRE(store.ok());
  auto states = (*store)->loadTrainStates();
  REQUIRE(states.ok());
  CHECK(*states == std::vector<std::string>{"{\"v\":3}", "{\"v\":2}"});  // by service: db, web
  auto candidates = (*store)->loadCandidates("web");
  REQUIRE(candidates.ok());
  REQUIRE(candidates->size() == 2);
  CHECK((*candidates)[0] == TrainCandidateRow{"web", 1, "aaa", "{\"c\":11}"});
  CHECK((*candidates)[1] == TrainCandidateRow{"web", 2, "bbb", "{\"c\":2}"});
  auto events = (*store)->trainEvents("web", 3);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 3);
  CHECK((*events)[0].message == "e3");
  CHECK((*events)[2].message == "e5");
  CHECK((*events)[2].rolloutId == "r5");
}

}  // namespace
}  // namespace rollgate::coordinator
