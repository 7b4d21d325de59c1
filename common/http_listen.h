// Starting a cpp-httplib server's accept loop on a thread of its own, for the coordinator's HTTP
// listeners (/metrics, the console, a standby's console).
// Thread-safety: call from the thread that owns `server` and `thread`.
#pragma once

#include <httplib.h>

#include <chrono>
#include <thread>

namespace rollgate {

// Runs the accept loop of `server` (bound already: bind_to_port) on `thread`, and returns once it
// runs: until then Server::stop() cannot interrupt it, and a stop right after the start (a
// standby that takes the lease at once) would leave the join waiting for ever. The loop starts at
// once; the wait gives up after 5 s.
inline void listenInBackground(httplib::Server& server, std::thread& thread) {
  thread = std::thread([&server] { server.listen_after_bind(); });
  for (int i = 0; i < 5000 && !server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace rollgate
