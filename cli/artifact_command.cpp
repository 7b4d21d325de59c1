// `rollgate artifact push FILE --service S --version V [--signature SIGFILE] [--json]`: uploads a
// build to the coordinator's content-addressed artifact store (protocol in install_commands.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <variant>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/install_commands.h"
#include "cli/output.h"
#include "common/build_signature.h"
#include "common/codec.h"
#include "common/version.h"
#include "common/sys/error.h"

namespace rollgate::cli {
namespace {

// Files larger than this show progress while uploading.
constexpr std::uint64_t kProgressMinBytes = 4 << 20;

struct PushOptions {
  std::string file;
  std::string service;
  std::string version;
  std::string signatureFile;
  bool json = false;
};

class FileCloser {
 public:
  explicit FileCloser(int fd) : fd_(fd) {}
  ~FileCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileCloser(const FileCloser&) = delete;
  FileCloser& operator=(const FileCloser&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// One progress line on stderr: rewritten in place on a terminal, a line per quarter otherwise.
class UploadProgress {
 public:
  UploadProgress(std::uint64_t totalBytes, bool show)
      : totalBytes_(totalBytes),
        enabled_(show && totalBytes >= kProgressMinBytes),
        tty_(::isatty(STDERR_FILENO) == 1),
        start_(std::chrono::steady_clock::now()) {}

  void update(std::uint64_t doneBytes) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    int percent = static_cast<int>(doneBytes * 100 / totalBytes_);
    if (tty_) {
      if (doneBytes < totalBytes_ && now - lastPrint_ < std::chrono::milliseconds(100)) return;
      std::fprintf(stderr, "\r%s", line(doneBytes, now).c_str());
      printedTty_ = true;
    } else {
      if (percent / 25 == lastQuarter_) return;
      lastQuarter_ = percent / 25;
      std::fprintf(stderr, "%s\n", line(doneBytes, now).c_str());
    }
    lastPrint_ = now;
    std::fflush(stderr);
  }

  void finish() {
    if (printedTty_) std::fprintf(stderr, "\n");
  }

  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::string line(std::uint64_t doneBytes, std::chrono::steady_clock::time_point now) const {
    double elapsed = std::chrono::duration<double>(now - start_).count();
    double mb = static_cast<double>(doneBytes) / 1e6;
    char text[160];
    std::snprintf(text, sizeof(text), "uploading: %3d%%  %.1f of %.1f MB  %.1f MB/s",
                  static_cast<int>(doneBytes * 100 / totalBytes_), mb,
                  static_cast<double>(totalBytes_) / 1e6, elapsed > 0 ? mb / elapsed : 0.0);
    return text;
  }

  std::uint64_t totalBytes_;
  bool enabled_;
  bool tty_;
  bool printedTty_ = false;
  int lastQuarter_ = -1;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point lastPrint_{};
};

Result<std::string> readPiece(int fd, std::uint64_t offset, std::size_t size,
                              const std::string& path) {
  std::string data(size, '\0');
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, data.data() + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return makeError(path + ": read at offset " + std::to_string(offset + done) + ": " +
                       sys::errnoMessage(errno));
    }
    if (n == 0) {
      return makeError(path + ": file shrank while uploading (ends at " +
                       std::to_string(offset + done) + " bytes)");
    }
    done += static_cast<std::size_t>(n);
  }
  return data;
}

// A push that failed: the exit code a command should use (kExitUsage for bad input,
// kExitUnavailable when the coordinator cannot be reached, kExitFailure otherwise) and the line.
struct PushFailure {
  int exitCode = kExitFailure;
  std::string message;
};

struct PushDone {
  std::string sha256;
  std::uint64_t totalBytes = 0;
  bool isSigned = false;
  std::string stored;  // the coordinator's final AdminOk message
  double seconds = 0.0;
};

// The signature to send: --signature, else FILE.sig when it exists, else none. A signature file
// that does not parse is refused here rather than by every agent later.
std::variant<std::string, PushFailure> loadSignature(const PushOptions& options) {
  std::string path = options.signatureFile;
  if (path.empty()) {
    struct stat st;
    if (::stat((options.file + ".sig").c_str(), &st) != 0) return std::string{};
    path = options.file + ".sig";
  }
  auto text = install::detail::readSmallFile(path);
  if (!text) return PushFailure{kExitUsage, "signature " + text.error().message};
  if (auto parsed = install::parseSignature(*text); !parsed) {
    return PushFailure{kExitUsage, "signature file " + path + ": " + parsed.error().message};
  }
  return *text;
}

std::variant<PushDone, PushFailure> pushFile(const AdminOptions& admin, const PushOptions& options,
                                             bool showProgress) {
  if (!isValidName(options.service)) {
    return PushFailure{kExitUsage,
                       "--service '" + options.service + "' is not a valid service name"};
  }
  if (auto valid = validateVersion(options.version); !valid) {
    return PushFailure{kExitUsage, "--version: " + valid.error().message};
  }
  FileCloser file(::open(options.file.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) return PushFailure{kExitUsage, options.file + ": " + sys::errnoMessage(errno)};
  struct stat st;
  if (::fstat(file.get(), &st) != 0) {
    return PushFailure{kExitUsage, options.file + ": " + sys::errnoMessage(errno)};
  }
  if (!S_ISREG(st.st_mode)) return PushFailure{kExitUsage, options.file + ": not a regular file"};
  const auto totalBytes = static_cast<std::uint64_t>(st.st_size);
  auto signature = loadSignature(options);
  if (auto* failure = std::get_if<PushFailure>(&signature)) return std::move(*failure);
  const std::string& signatureText = std::get<std::string>(signature);

  auto digest = sha256File(options.file);
  if (!digest) return PushFailure{kExitUsage, digest.error().message};
  const std::string sha256 = toHex(*digest);

  auto client = AdminClient::connect(admin);
  if (!client) return PushFailure{kExitUnavailable, client.error().message};

  UploadProgress progress(totalBytes, showProgress);
  std::string stored;
  std::uint64_t offset = 0;
  while (true) {
    std::size_t size =
        static_cast<std::size_t>(std::min<std::uint64_t>(kArtifactChunkBytes, totalBytes - offset));
    auto data = readPiece(file.get(), offset, size, options.file);
    if (!data) {
      progress.finish();
      return PushFailure{kExitFailure, data.error().message};
    }
    AdminRequest request;
    PushArtifact piece;
    piece.service = options.service;
    piece.version = options.version;
    piece.sha256 = sha256;
    piece.totalBytes = totalBytes;
    piece.offset = offset;
    piece.data = std::move(*data);
    piece.final = offset + size == totalBytes;
    piece.signature = signatureText;
    const bool final = piece.final;
    request.body = std::move(piece);
    auto reply = (*client)->call(std::move(request));
    if (!reply) {
      progress.finish();
      return PushFailure{kExitUnavailable, reply.error().message};
    }
    if (const auto* error = std::get_if<AdminError>(&reply->body)) {
      progress.finish();
      return PushFailure{kExitFailure, "push " + options.service + " " + options.version +
                                           " failed at offset " + std::to_string(offset) + ": " +
                                           error->message};
    }
    const auto* ok = std::get_if<AdminOk>(&reply->body);
    if (ok == nullptr) {
      progress.finish();
      return PushFailure{kExitFailure, "unexpected reply to an artifact upload piece at offset " +
                                           std::to_string(offset)};
    }
    offset += size;
    progress.update(offset);
    if (final) {
      stored = ok->message;
      break;
    }
  }
  progress.finish();
  return PushDone{sha256, totalBytes, !signatureText.empty(), stored, progress.seconds()};
}

void push(const AdminOptions& admin, const PushOptions& options) {
  auto outcome = pushFile(admin, options, true);
  if (auto* failure = std::get_if<PushFailure>(&outcome)) fail(failure->exitCode, failure->message);
  const PushDone& done = std::get<PushDone>(outcome);
  if (options.json) {
    nlohmann::json out = {{"service", options.service},
                          {"version", options.version},
                          {"sha256", done.sha256},
                          {"size_bytes", done.totalBytes},
                          {"signed", done.isSigned},
                          {"message", done.stored},
                          {"seconds", done.seconds}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%s\n", done.stored.c_str());
  }
}

}  // namespace

Result<std::string> pushArtifactFile(const AdminOptions& admin, const std::string& file,
                                     const std::string& service, const std::string& version,
                                     const std::string& signatureFile, bool showProgress) {
  PushOptions options;
  options.file = file;
  options.service = service;
  options.version = version;
  options.signatureFile = signatureFile;
  auto outcome = pushFile(admin, options, showProgress);
  if (auto* failure = std::get_if<PushFailure>(&outcome)) return makeError(failure->message);
  return std::get<PushDone>(outcome).sha256;
}

void addArtifactCommands(CLI::App& app, AdminOptions& admin) {
  auto* artifact = app.add_subcommand("artifact", "build artifacts in the coordinator's store");
  artifact->require_subcommand(1);
  auto options = std::make_shared<PushOptions>();
  auto* pushCommand = artifact->add_subcommand(
      "push", "upload a build (content-addressed by SHA-256) for installs and rollouts");
  pushCommand->add_option("FILE", options->file, "the artifact (tar, tar.gz or tar.zst)")
      ->required();
  pushCommand->add_option("--service", options->service, "service name")->required();
  pushCommand->add_option("--version", options->version, "release version")->required();
  pushCommand->add_option("--signature", options->signatureFile,
                          "build signature file (default: FILE.sig when it exists)");
  pushCommand->add_flag("--json", options->json, "print JSON");
  pushCommand->callback([&admin, options] { push(admin, *options); });
}

}  // namespace rollgate::cli
