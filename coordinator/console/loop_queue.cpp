#include "coordinator/console/loop_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace rollgate::console {

LoopQueue::LoopQueue(std::size_t capacity)
    : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)), capacity_(capacity) {}

LoopQueue::~LoopQueue() {
  if (fd_ >= 0) ::close(fd_);
}

bool LoopQueue::post(std::function<void()> task) {
  if (fd_ < 0) return false;
  {
    std::lock_guard lock(mutex_);
    if (tasks_.size() >= capacity_) return false;
    tasks_.push_back(std::move(task));
  }
  std::uint64_t one = 1;
  // A full counter (2^64 - 2 wake-ups unread) cannot happen; EAGAIN would still leave it readable.
  [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
  return true;
}

std::size_t LoopQueue::drain() {
  std::uint64_t count = 0;
  if (fd_ >= 0) [[maybe_unused]] ssize_t n = ::read(fd_, &count, sizeof count);
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard lock(mutex_);
    tasks.swap(tasks_);
  }
  for (auto& task : tasks) task();
  return tasks.size();
}

}  // namespace rollgate::console
