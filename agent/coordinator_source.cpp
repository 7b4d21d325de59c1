#include "agent/coordinator_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>

#include "common/codec.h"
#include "common/sys/error.h"
#include "common/transport.h"

namespace rollgate::agent {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::uint64_t elapsedMillis(SteadyClock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - since).count();
}

}  // namespace

Status CoordinatorSource::fetch(const install::FetchRequest& request,
                                const install::ProgressFn& progress,
                                const std::atomic<bool>& cancel) {
  int fd = ::open(request.stagingPath.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return makeError(request.stagingPath + ": open: " + sys::errnoMessage(errno));
  struct stat st {};
  ::fstat(fd, &st);
  std::uint64_t done = static_cast<std::uint64_t>(st.st_size);
  std::uint64_t total = request.expectedBytes;
  if (total != 0 && done > total) {
    // More than the artifact can hold: not ours to resume from.
    if (::ftruncate(fd, 0) != 0) {
      ::close(fd);
      return makeError(request.stagingPath + ": truncate: " + sys::errnoMessage(errno));
    }
    done = 0;
  }
  auto closeFd = [&] { ::close(fd); };

  const std::vector<std::string> endpoints =
      options_.endpoints.empty() ? std::vector<std::string>{options_.endpoint} : options_.endpoints;
  zmq::socket_t socket(context_, zmq::socket_type::dealer);
  try {
    configureCurveClient(socket, options_.secretKey, options_.publicKey, options_.serverKey,
                         kMaxCoordinatorMessageBytes);
    if (endpoints.size() > 1) {
      // Coordinators sharing PostgreSQL: only the leader binds the agent endpoint, so requests
      // go only to a connection that completed (the leader's), whichever it is now.
      socket.set(zmq::sockopt::immediate, true);
    }
    for (const auto& endpoint : endpoints) socket.connect(endpoint);
    if (endpoints.size() > 1) {
      zmq::pollitem_t writable{socket.handle(), 0, ZMQ_POLLOUT, 0};
      zmq::poll(&writable, 1, std::chrono::milliseconds(options_.stallTimeoutMillis));
    }
  } catch (const zmq::error_t& e) {
    closeFd();
    return makeError("coordinator " + options_.endpoint + ": " + e.what());
  }

  std::deque<std::uint64_t> outstanding;  // offsets requested, in order
  std::uint64_t nextOffset = done;        // next offset to request
  auto lastChunk = SteadyClock::now();
  auto lastProgress = SteadyClock::now();
  auto requestMore = [&] {
    while (outstanding.size() < options_.creditChunks && (total == 0 || nextOffset < total)) {
      // Until the total is known (first reply), ask for one chunk only.
      if (total == 0 && !outstanding.empty()) break;
      std::uint32_t length = static_cast<std::uint32_t>(kArtifactChunkBytes);
      if (total != 0) length = static_cast<std::uint32_t>(std::min<std::uint64_t>(length, total - nextOffset));
      std::string payload = encode(AgentMessage{RequestChunk{request.sha256, nextOffset, length}});
      socket.send(zmq::buffer(payload), zmq::send_flags::dontwait);
      outstanding.push_back(nextOffset);
      nextOffset += length;
    }
  };

  if (progress) progress(done, total);
  while (total == 0 || done < total) {
    if (cancel.load()) {
      closeFd();
      return makeError("cancelled");
    }
    try {
      requestMore();
      zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
      if (!(item.revents & ZMQ_POLLIN)) {
        if (elapsedMillis(lastProgress) > options_.giveUpMillis) {
          closeFd();
          return makeError("artifact " + request.sha256 + ": no data from coordinator " +
                           options_.endpoint + " for " +
                           std::to_string(options_.giveUpMillis / 1000) + " s");
        }
        if (elapsedMillis(lastChunk) > options_.stallTimeoutMillis) {
          // Lost in a reconnect (or the coordinator restarted): ask again from where we are.
          outstanding.clear();
          nextOffset = done;
          lastChunk = SteadyClock::now();
        }
        continue;
      }
      zmq::message_t frame;
      if (!socket.recv(frame, zmq::recv_flags::dontwait)) continue;
      auto message = decodeCoordinatorMessage(
          Bytes(static_cast<const std::uint8_t*>(frame.data()), frame.size()));
      if (!message) continue;
      auto* chunk = std::get_if<ArtifactChunk>(&*message);
      if (chunk == nullptr || chunk->sha256 != request.sha256) continue;
      if (!chunk->error.empty()) {
        closeFd();
        return makeError("coordinator: " + chunk->error);
      }
      lastChunk = SteadyClock::now();
      if (total == 0) total = chunk->totalBytes;
      if (chunk->totalBytes != total) {
        closeFd();
        return makeError("artifact " + request.sha256 + ": coordinator reports " +
                         std::to_string(chunk->totalBytes) + " bytes, expected " +
                         std::to_string(total));
      }
      if (outstanding.empty() || chunk->offset != outstanding.front() || chunk->offset != done) {
        continue;  // a duplicate from before a re-request; the ordered stream resumes below
      }
      outstanding.pop_front();
      std::size_t written = 0;
      while (written < chunk->data.size()) {
        ssize_t n = ::pwrite(fd, chunk->data.data() + written, chunk->data.size() - written,
                             static_cast<off_t>(done + written));
        if (n < 0) {
          int error = errno;
          closeFd();
          return makeError(request.stagingPath + ": write: " + sys::errnoMessage(error));
        }
        written += static_cast<std::size_t>(n);
      }
      done += chunk->data.size();
      lastProgress = SteadyClock::now();
      if (progress) progress(done, total);
      if (chunk->data.empty() && done < total) {
        closeFd();
        return makeError("artifact " + request.sha256 + ": empty chunk at offset " +
                         std::to_string(chunk->offset));
      }
    } catch (const zmq::error_t& e) {
      closeFd();
      return makeError("coordinator " + options_.endpoint + ": " + e.what());
    }
    if (total == 0 && done == 0 && outstanding.empty()) break;  // an empty artifact
  }
  if (::fsync(fd) != 0) {
    int error = errno;
    closeFd();
    return makeError(request.stagingPath + ": fsync: " + sys::errnoMessage(error));
  }
  closeFd();
  return {};
}

}  // namespace rollgate::agent
