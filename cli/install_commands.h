// Artifact upload and by-hand installs: the `rollgate artifact push`, `rollgate install`,
// `rollgate rollback` and `rollgate releases` commands (artifact_command.cpp,
// install_command.cpp). They follow the conventions in commands.h: one failure line on stderr and
// a non-zero exit, --json prints exactly one document, progress goes to stderr.
//
// Protocol with the coordinator's admin endpoint:
//  - artifact push: PushArtifact pieces of at most kArtifactChunkBytes, in order, each awaiting
//    its AdminOk (AdminError ends the push); the last piece has final = true (an empty file is one
//    final piece); the signature (FILE.sig or --signature) rides on every piece.
//  - install / rollback: one ManualCommand; interim replies (final = false) carry a CommandResult
//    with progress = true (message = step, bytesDone/bytesTotal); the final reply is a
//    CommandResult or an AdminError. Exit 0 only for Outcome::kSucceeded.
//  - releases: ListReleases{host}; the reply is a HostList holding that host.
// Thread-safety: none needed (the CLI is single-threaded).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/admin_client.h"

namespace rollgate::cli {

void addArtifactCommands(CLI::App& app, AdminOptions& admin);  // artifact push
void addInstallCommands(CLI::App& app, AdminOptions& admin);   // install, rollback, releases

// Uploads `file` as `service` `version` with the protocol above (signature: `signatureFile`, else
// FILE.sig when it exists, else none) and returns its SHA-256 (hex). A re-push of the same version
// and content succeeds (the coordinator reports it as already stored). `showProgress`: the
// progress line on stderr for large files. Fails naming the file, the value or the endpoint.
Result<std::string> pushArtifactFile(const AdminOptions& admin, const std::string& file,
                                     const std::string& service, const std::string& version,
                                     const std::string& signatureFile, bool showProgress);

}  // namespace rollgate::cli
