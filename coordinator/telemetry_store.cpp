#include "coordinator/telemetry_store.h"

namespace rollgate::coordinator {

void TelemetryStore::add(const std::string& host, TelemetryWindow window) {
  pending_.push_back(StoredWindow{host, std::move(window)});
}

Status TelemetryStore::flush() {
  if (pending_.empty()) return {};
  if (auto status = store_->appendWindows(pending_); !status) return status;
  stored_ += pending_.size();
  pending_.clear();
  return {};
}

}  // namespace rollgate::coordinator
