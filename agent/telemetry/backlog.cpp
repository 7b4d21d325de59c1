#include "agent/telemetry/backlog.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "agent/telemetry/atomic_file.h"
#include "common/codec.h"

namespace rollgate::agent {
namespace {

constexpr std::string_view kWindowSuffix = ".window";
constexpr std::string_view kFileMagic = "rollgate-window 1 ";

// "<magic><annex bytes>\n<annex><Cap'n Proto frame of a one-window TelemetryReport>"
std::string encodeRecord(const TelemetryWindow& window, const std::string& annex) {
  std::string out(kFileMagic);
  out += std::to_string(annex.size());
  out += '\n';
  out += annex;
  out += encode(AgentMessage{TelemetryReport{{window}}});
  return out;
}

Result<std::pair<TelemetryWindow, std::string>> decodeRecord(const std::string& text) {
  if (!text.starts_with(kFileMagic)) return makeError("not a telemetry window file");
  const auto newline = text.find('\n');
  if (newline == std::string::npos) return makeError("truncated header");
  std::uint64_t annexBytes = 0;
  try {
    annexBytes = std::stoull(text.substr(kFileMagic.size(), newline - kFileMagic.size()));
  } catch (const std::exception&) {
    return makeError("bad annex length");
  }
  if (annexBytes > text.size() - newline - 1) return makeError("annex past the end");
  std::string annex = text.substr(newline + 1, annexBytes);
  const std::string_view frame = std::string_view(text).substr(newline + 1 + annexBytes);
  auto message = decodeAgentMessage(bytesOf(frame));
  if (!message) return message.error();
  auto* report = std::get_if<TelemetryReport>(&*message);
  if (report == nullptr || report->windows.size() != 1) return makeError("not one window");
  return std::pair{std::move(report->windows.front()), std::move(annex)};
}

// "<20 digits>.window" -> the sequence.
std::optional<std::uint64_t> sequenceOfName(std::string_view name) {
  if (!name.ends_with(kWindowSuffix)) return std::nullopt;
  name.remove_suffix(kWindowSuffix.size());
  if (name.empty() || name.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

}  // namespace

std::string TelemetryBacklog::fileOf(std::uint64_t sequence) const {
  char name[32];
  std::snprintf(name, sizeof name, "%020" PRIu64 ".window", sequence);
  return dir_ + "/" + name;
}

Status TelemetryBacklog::writeMeta() const {
  return writeFileAtomically(dir_ + "/meta", "acked_through " + std::to_string(ackedThrough_) +
                                                 "\nnext_sequence " +
                                                 std::to_string(nextSequence_) + "\n");
}

Result<std::unique_ptr<TelemetryBacklog>> TelemetryBacklog::open(std::string dir,
                                                                 BacklogLimits limits,
                                                                 std::uint64_t nowMillis) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return makeError("telemetry backlog " + dir + ": create: " + ec.message());
  limits.maxWindows = std::max<std::size_t>(limits.maxWindows, 1);
  std::unique_ptr<TelemetryBacklog> backlog(new TelemetryBacklog(dir, limits));

  std::optional<std::uint64_t> metaAcked;
  std::uint64_t metaNext = 0;
  if (auto meta = readWholeFile(dir + "/meta")) {
    std::istringstream in(*meta);
    std::string key;
    std::uint64_t value = 0;
    while (in >> key >> value) {
      if (key == "acked_through") metaAcked = value;
      if (key == "next_sequence") metaNext = value;
    }
  }

  std::vector<std::uint64_t> sequences;
  if (DIR* handle = ::opendir(dir.c_str())) {
    while (dirent* entry = ::readdir(handle)) {
      std::string name = entry->d_name;
      if (name.ends_with(".tmp")) {
        ::unlink((dir + "/" + name).c_str());  // an interrupted atomic write
      } else if (auto sequence = sequenceOfName(name)) {
        sequences.push_back(*sequence);
      }
    }
    ::closedir(handle);
  }
  std::sort(sequences.begin(), sequences.end());

  if (metaAcked) {
    backlog->ackedThrough_ = *metaAcked;
  } else if (!sequences.empty()) {
    backlog->ackedThrough_ = sequences.front() - 1;  // meta lost: nothing before the oldest is owed
  } else {
    backlog->ackedThrough_ = std::max<std::uint64_t>(nowMillis, 1) - 1;
  }
  backlog->nextSequence_ = std::max(backlog->ackedThrough_ + 1, metaNext);
  for (std::uint64_t sequence : sequences) {
    const std::string path = backlog->fileOf(sequence);
    if (sequence <= backlog->ackedThrough_) {
      ::unlink(path.c_str());  // acknowledged just before a crash
      continue;
    }
    backlog->nextSequence_ = std::max(backlog->nextSequence_, sequence + 1);
    auto text = readWholeFile(path);
    auto record = text ? decodeRecord(*text) : Result<std::pair<TelemetryWindow, std::string>>(text.error());
    if (!record) {
      ::unlink(path.c_str());  // its number stays a gap: counted as dropped
      continue;
    }
    Record loaded;
    loaded.sequence = sequence;
    loaded.window = std::move(record->first);
    loaded.annex = std::move(record->second);
    loaded.bytes = text->size();
    backlog->bytes_ += loaded.bytes;
    backlog->records_.push_back(std::move(loaded));
  }
  if (auto status = backlog->writeMeta(); !status) {
    return makeError("telemetry backlog: " + status.error().message);
  }
  backlog->enforceBounds();  // the limits may have shrunk; these drops are counted by the gaps
  return backlog;
}

TelemetryBacklog::Pushed TelemetryBacklog::push(TelemetryWindow window, std::string annex) {
  Pushed pushed;
  pushed.sequence = nextSequence_++;
  window.sequence = pushed.sequence;
  window.droppedBefore = 0;  // computed when sent, from the gaps
  std::string content = encodeRecord(window, annex);
  Status written;
  if (content.size() > limits_.maxBytes) {
    written = makeError("window of " + window.service + " is " + std::to_string(content.size()) +
                        " bytes, over the backlog's bound of " +
                        std::to_string(limits_.maxBytes));
  } else {
    written = writeFileAtomically(fileOf(pushed.sequence), content);
  }
  if (!written) {
    // Dropped at once. Its number must not be reused after a restart, or the gap would close.
    ++droppedTotal_;
    pushed.droppedNow = 1;
    pushed.error = written.error();
    if (auto meta = writeMeta(); !meta) pushed.error->message += "; " + meta.error().message;
    return pushed;
  }
  Record record;
  record.sequence = pushed.sequence;
  record.window = std::move(window);
  record.annex = std::move(annex);
  record.bytes = content.size();
  bytes_ += record.bytes;
  records_.push_back(std::move(record));
  pushed.droppedNow = enforceBounds();
  droppedTotal_ += pushed.droppedNow;
  return pushed;
}

void TelemetryBacklog::removeOldest() {
  ::unlink(fileOf(records_.front().sequence).c_str());
  bytes_ -= records_.front().bytes;
  records_.pop_front();
}

std::size_t TelemetryBacklog::enforceBounds() {
  std::size_t dropped = 0;
  while (!records_.empty() && (records_.size() > limits_.maxWindows || bytes_ > limits_.maxBytes)) {
    removeOldest();
    ++dropped;
  }
  return dropped;
}

std::vector<TelemetryWindow> TelemetryBacklog::unsent(std::size_t maxCount) const {
  std::vector<TelemetryWindow> out;
  std::uint64_t previous = ackedThrough_;
  for (const Record& record : records_) {
    if (out.size() >= maxCount) break;
    if (!record.sent) {
      TelemetryWindow window = record.window;
      window.sequence = record.sequence;
      window.droppedBefore = record.sequence - previous - 1;
      out.push_back(std::move(window));
    }
    previous = record.sequence;
  }
  return out;
}

void TelemetryBacklog::markSent(std::uint64_t throughSequence) {
  for (Record& record : records_) {
    if (record.sequence > throughSequence) break;
    record.sent = true;
  }
}

void TelemetryBacklog::resendAll() {
  for (Record& record : records_) record.sent = false;
}

std::size_t TelemetryBacklog::unsentCount() const {
  return static_cast<std::size_t>(
      std::count_if(records_.begin(), records_.end(), [](const Record& r) { return !r.sent; }));
}

Status TelemetryBacklog::acknowledge(std::uint64_t throughSequence) {
  // A number never handed out cannot have been stored.
  throughSequence = std::min(throughSequence, nextSequence_ - 1);
  if (throughSequence <= ackedThrough_) return {};
  ackedThrough_ = throughSequence;
  Status status = writeMeta();
  while (!records_.empty() && records_.front().sequence <= throughSequence) removeOldest();
  return status;
}

std::optional<std::pair<std::uint64_t, std::string>> TelemetryBacklog::newestAnnex(
    const std::string& service) const {
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if (it->window.service == service) return std::pair{it->sequence, it->annex};
  }
  return std::nullopt;
}

}  // namespace rollgate::agent
