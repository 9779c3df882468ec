#include "conduit/app/memory_return.hpp"

#include <algorithm>

namespace conduit::app {

std::chrono::steady_clock::time_point memoryReturnAt(
    std::chrono::steady_clock::time_point firstPendingEnd,
    std::chrono::steady_clock::time_point lastEnd, std::chrono::milliseconds quiet,
    std::chrono::milliseconds longest) {
  return std::min(lastEnd + quiet, firstPendingEnd + longest);
}

MemoryReturn::MemoryReturn(Options options, std::function<void()> returnMemory)
    : options_(options), returnMemory_(std::move(returnMemory)) {
  thread_ = std::thread([this] { run(); });
}

MemoryReturn::~MemoryReturn() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void MemoryReturn::sessionEnded() {
  {
    std::lock_guard lock(mutex_);
    lastEnd_ = Clock::now();
    if (!pending_) firstPendingEnd_ = lastEnd_;
    pending_ = true;
  }
  wake_.notify_one();
}

std::uint64_t MemoryReturn::returns() const {
  std::lock_guard lock(mutex_);
  return returns_;
}

void MemoryReturn::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (!pending_) {
      wake_.wait(lock, [this] { return stop_ || pending_; });
      continue;
    }
    const auto at = memoryReturnAt(firstPendingEnd_, lastEnd_, options_.quiet, options_.longest);
    if (Clock::now() < at) {
      wake_.wait_until(lock, at);
      continue;
    }
    pending_ = false;
    lock.unlock();  // sessions that end meanwhile only mark the next return
    returnMemory_();
    lock.lock();
    ++returns_;
  }
}

}  // namespace conduit::app
