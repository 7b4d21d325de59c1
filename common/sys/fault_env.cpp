#include "common/sys/fault_env.h"

#include <cerrno>

#include "common/sys/error.h"

namespace rollgate::sys {
namespace {

std::size_t index(FileOp op) { return static_cast<std::size_t>(op); }

bool changesDisk(FileOp op) { return op != FileOp::kClose; }

Error injected(const std::string& what, FileOp op, int err) {
  return makeError(what + ": " + fileOpName(op) + ": " + errnoMessage(err) + " (injected)");
}

class FaultInjectingFile final : public WritableFile {
 public:
  FaultInjectingFile(FaultInjectingEnv& env, std::string path, std::unique_ptr<WritableFile> file)
      : env_(env), path_(std::move(path)), file_(std::move(file)) {}

  Status append(std::string_view data) override {
    if (int err = env_.admit(FileOp::kWrite)) return injected(path_, FileOp::kWrite, err);
    return file_->append(data);
  }
  Status sync() override {
    if (int err = env_.admit(FileOp::kSync)) return injected(path_, FileOp::kSync, err);
    return file_->sync();
  }
  Status close() override {
    Status closed = file_->close();  // the descriptor is released whatever the fault
    if (int err = env_.admit(FileOp::kClose)) return injected(path_, FileOp::kClose, err);
    return closed;
  }

 private:
  FaultInjectingEnv& env_;
  std::string path_;
  std::unique_ptr<WritableFile> file_;
};

}  // namespace

const char* fileOpName(FileOp op) {
  switch (op) {
    case FileOp::kCreate:
      return "create";
    case FileOp::kWrite:
      return "write";
    case FileOp::kSync:
      return "fsync";
    case FileOp::kClose:
      return "close";
    case FileOp::kRename:
      return "rename";
    case FileOp::kRemove:
      return "unlink";
    case FileOp::kCreateDir:
      return "mkdir";
    case FileOp::kSyncDir:
      return "fsync directory";
  }
  return "?";
}

FaultInjectingEnv::FaultInjectingEnv(std::uint64_t startMillis) : clock_(startMillis) {}

void FaultInjectingEnv::failNth(FileOp op, int n, int err) {
  std::lock_guard lock(mutex_);
  faults_[index(op)].nth = calls_[index(op)] + n;
  faults_[index(op)].nthErrno = err;
}

void FaultInjectingEnv::failAlways(FileOp op, int err) {
  std::lock_guard lock(mutex_);
  faults_[index(op)].alwaysErrno = err;
}

void FaultInjectingEnv::crashAt(FileOp op, int n) {
  std::lock_guard lock(mutex_);
  faults_[index(op)].crashNth = calls_[index(op)] + n;
}

void FaultInjectingEnv::clearFaults() {
  std::lock_guard lock(mutex_);
  faults_ = {};
  crashed_ = false;
}

bool FaultInjectingEnv::crashed() const {
  std::lock_guard lock(mutex_);
  return crashed_;
}

int FaultInjectingEnv::count(FileOp op) const {
  std::lock_guard lock(mutex_);
  return calls_[index(op)];
}

int FaultInjectingEnv::admit(FileOp op) {
  std::lock_guard lock(mutex_);
  int ordinal = ++calls_[index(op)];
  Fault& fault = faults_[index(op)];
  if (fault.crashNth != 0 && ordinal == fault.crashNth) crashed_ = true;
  if (crashed_ && changesDisk(op)) return EIO;
  if (fault.nth != 0 && ordinal == fault.nth) return fault.nthErrno;
  return fault.alwaysErrno;
}

Result<std::unique_ptr<WritableFile>> FaultInjectingEnv::newWritableFile(const std::string& path,
                                                                         mode_t mode) {
  if (int err = admit(FileOp::kCreate)) return injected(path, FileOp::kCreate, err);
  auto file = target_.newWritableFile(path, mode);
  if (!file) return file.error();
  return std::unique_ptr<WritableFile>(
      std::make_unique<FaultInjectingFile>(*this, path, std::move(*file)));
}

Result<std::optional<std::string>> FaultInjectingEnv::readFileIfExists(const std::string& path) {
  return target_.readFileIfExists(path);
}

Status FaultInjectingEnv::renameFile(const std::string& from, const std::string& to) {
  if (int err = admit(FileOp::kRename))
    return injected("rename " + from + " -> " + to, FileOp::kRename, err);
  return target_.renameFile(from, to);
}

Status FaultInjectingEnv::removeFile(const std::string& path) {
  if (int err = admit(FileOp::kRemove)) return injected(path, FileOp::kRemove, err);
  return target_.removeFile(path);
}

Status FaultInjectingEnv::createDir(const std::string& path, mode_t mode) {
  if (int err = admit(FileOp::kCreateDir)) return injected(path, FileOp::kCreateDir, err);
  return target_.createDir(path, mode);
}

Status FaultInjectingEnv::syncDir(const std::string& dir) {
  if (int err = admit(FileOp::kSyncDir)) return injected(dir, FileOp::kSyncDir, err);
  return target_.syncDir(dir);
}

}  // namespace rollgate::sys
