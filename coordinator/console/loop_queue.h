// LoopQueue: work the console's HTTP threads hand to the coordinator's loop (a sign-in to check
// against the store, an operator's action). post() never blocks on the loop: it appends under a
// mutex and writes to an eventfd the loop polls beside its ZeroMQ sockets, so the loop wakes at
// once; the loop runs the tasks with drain(). The queue is bounded: post() refuses work when
// `capacity` tasks are waiting (the HTTP request then fails with 503).
// Thread-safety: post() from any thread; drain() and fd() on the loop's thread.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace rollgate::console {

class LoopQueue {
 public:
  explicit LoopQueue(std::size_t capacity = 256);
  ~LoopQueue();
  LoopQueue(const LoopQueue&) = delete;
  LoopQueue& operator=(const LoopQueue&) = delete;

  // False when the queue is full (or its eventfd could not be made).
  bool post(std::function<void()> task);
  // Runs every task posted so far, in order. Returns how many ran.
  std::size_t drain();
  // The eventfd to poll for readability; -1 if it could not be created.
  int fd() const { return fd_; }

 private:
  int fd_;
  std::size_t capacity_;
  std::mutex mutex_;
  std::deque<std::function<void()>> tasks_;
};

}  // namespace rollgate::console
