// Durable command state for the installer.
//   Journal: one file per service (<stateDir>/journal.json) describing the command in progress
//     and the step it is about to run. Written (sys::writeFileAtomically) BEFORE each
//     step, removed when the command's result is recorded. Its presence at startup means the
//     agent died mid-command.
//   CommandLedger: one file per agent: the last applied command (epoch, sequence) and the results
//     of recent commands, so a re-delivered command returns its recorded result and an older one
//     is answered "stale" without doing anything. Commands with epoch 0 and sequence 0 are
//     unsequenced (local/manual) and always applied.
// Thread-safety: Journal is not thread-safe (one per installer). CommandLedger is thread-safe
// (shared by the installers of all services).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/messages.h"
#include "common/result.h"
#include "common/sys/env.h"

namespace rollgate::install {

enum class Step : uint8_t { kFetch, kVerify, kUnpack, kSwitch, kRestart, kHealth, kSwitchBack, kDone };
const char* stepName(Step step);
std::optional<Step> parseStep(const std::string& name);

enum class CommandKind : uint8_t { kInstall, kActivate, kRollback, kRestart };
const char* commandKindName(CommandKind kind);

struct JournalRecord {
  CommandRef ref;
  std::string service;
  CommandKind kind = CommandKind::kInstall;
  std::string version;   // the target release
  std::string sha256;    // install only
  std::string previous;  // the release active when the command started ("" = none)
  Step step = Step::kFetch;
  std::vector<std::string> events;
  uint64_t startedMillis = 0;  // wall clock
};

class Journal {
 public:
  // `env` must outlive the journal.
  Journal(std::string path, sys::Env& env) : path_(std::move(path)), env_(env) {}
  Status write(const JournalRecord& record);
  // nullopt when there is no journal; an error when it exists but cannot be parsed.
  Result<std::optional<JournalRecord>> read() const;
  Status clear();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  sys::Env& env_;
};

class CommandLedger {
 public:
  // `env` must outlive the ledger and be thread-safe (PosixEnv and FaultInjectingEnv are).
  CommandLedger(std::string path, sys::Env& env, size_t keepResults = 64)
      : path_(std::move(path)), env_(env), keepResults_(keepResults) {}
  // Reads the file if it exists. A corrupt file is an error (never silently reset).
  Status load();

  enum class Verdict { kNew, kStale, kDuplicate };
  struct Check {
    Verdict verdict = Verdict::kNew;
    std::optional<CommandResult> recorded;  // for kDuplicate
  };
  Check check(const CommandRef& ref) const;
  // Persists `result` as applied; moves last-applied forward if result.command is newer.
  Status record(const CommandResult& result);
  CommandRef lastApplied() const;

 private:
  Status saveLocked() const;
  std::string path_;
  sys::Env& env_;
  size_t keepResults_;
  mutable std::mutex mutex_;
  CommandRef last_;
  std::deque<CommandResult> results_;
};

// (epoch, sequence) order: negative if a is older than b.
int compareRefs(const CommandRef& a, const CommandRef& b);

}  // namespace rollgate::install
