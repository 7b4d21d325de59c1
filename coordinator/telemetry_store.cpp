#include "coordinator/telemetry_store.h"

#include <algorithm>

#include "common/codec.h"

namespace rollgate::coordinator {
namespace {

std::string encodeWindow(const TelemetryWindow& window) {
  return encode(AgentMessage{TelemetryReport{{window}}});
}

Result<TelemetryWindow> decodeWindow(const std::string& blob) {
  auto message = decodeAgentMessage(
      Bytes(reinterpret_cast<const std::uint8_t*>(blob.data()), blob.size()));
  if (!message) return message.error();
  const auto* report = std::get_if<TelemetryReport>(&*message);
  if (report == nullptr || report->windows.size() != 1) {
    return makeError("stored telemetry window is not a one-window report");
  }
  return report->windows.front();
}

}  // namespace

Result<TelemetryStore> TelemetryStore::open(Database& db) {
  auto status = db.exec(R"sql(
    CREATE TABLE IF NOT EXISTS telemetry(
      id INTEGER PRIMARY KEY AUTOINCREMENT, host TEXT NOT NULL, service TEXT NOT NULL,
      release TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
      requests INTEGER NOT NULL, status_5xx INTEGER NOT NULL, window BLOB NOT NULL);
    CREATE INDEX IF NOT EXISTS telemetry_host_service ON telemetry(host, service, end_ms);
    CREATE INDEX IF NOT EXISTS telemetry_service_end ON telemetry(service, end_ms);
  )sql");
  if (!status) return status.error();
  return TelemetryStore(db);
}

void TelemetryStore::add(const std::string& host, TelemetryWindow window) {
  pending_.push_back(StoredWindow{host, std::move(window)});
}

Status TelemetryStore::flush() {
  if (pending_.empty()) return {};
  Transaction transaction(*db_);
  auto stmt = db_->prepare(
      "INSERT INTO telemetry(host, service, release, start_ms, end_ms, requests, status_5xx, "
      "window) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!stmt) return stmt.error();
  for (const auto& item : pending_) {
    const TelemetryWindow& w = item.window;
    stmt->bind(1, item.host)
        .bind(2, w.service)
        .bind(3, w.release)
        .bind(4, static_cast<std::int64_t>(w.startMillis))
        .bind(5, static_cast<std::int64_t>(w.endMillis))
        .bind(6, static_cast<std::int64_t>(w.requests))
        .bind(7, static_cast<std::int64_t>(w.status5xx))
        .bindBlob(8, encodeWindow(w));
    if (auto status = stmt->run(); !status) return status;
    stmt->reset();
  }
  if (auto status = transaction.commit(); !status) return status;
  stored_ += pending_.size();
  pending_.clear();
  return {};
}

Result<std::vector<TelemetryWindow>> TelemetryStore::latest(const std::string& host,
                                                            const std::string& service,
                                                            std::uint32_t last) {
  auto stmt = db_->prepare(
      "SELECT window FROM telemetry WHERE host = ?1 AND (?2 = '' OR service = ?2) "
      "ORDER BY end_ms DESC, id DESC LIMIT ?3");
  if (!stmt) return stmt.error();
  stmt->bind(1, host).bind(2, service).bind(3, static_cast<std::int64_t>(last));
  std::vector<TelemetryWindow> out;
  while (stmt->step()) {
    auto window = decodeWindow(stmt->blob(0));
    if (window) out.push_back(std::move(*window));
  }
  if (auto status = stmt->status(); !status) return status.error();
  std::reverse(out.begin(), out.end());
  return out;
}

Result<std::vector<StoredWindow>> TelemetryStore::since(const std::string& service,
                                                        std::uint64_t sinceMillis) {
  auto stmt = db_->prepare(
      "SELECT host, window FROM telemetry WHERE service = ?1 AND end_ms > ?2 ORDER BY end_ms, id");
  if (!stmt) return stmt.error();
  stmt->bind(1, service).bind(2, static_cast<std::int64_t>(sinceMillis));
  std::vector<StoredWindow> out;
  while (stmt->step()) {
    auto window = decodeWindow(stmt->blob(1));
    if (window) out.push_back(StoredWindow{stmt->text(0), std::move(*window)});
  }
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

Result<std::uint64_t> TelemetryStore::prune(std::uint64_t beforeMillis) {
  auto stmt = db_->prepare("DELETE FROM telemetry WHERE end_ms < ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, static_cast<std::int64_t>(beforeMillis));
  if (auto status = stmt->run(); !status) return status.error();
  return static_cast<std::uint64_t>(db_->changes());
}

}  // namespace rollgate::coordinator
