#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace conduit::app {

/// When freed memory goes back to the system after sessions ended: `quiet` after the last end
/// (a session's threads and buffers are gone by then), but no later than `longest` after the
/// first end not yet followed by a return, so sessions that keep ending cannot postpone it.
std::chrono::steady_clock::time_point memoryReturnAt(
    std::chrono::steady_clock::time_point firstPendingEnd,
    std::chrono::steady_clock::time_point lastEnd, std::chrono::milliseconds quiet,
    std::chrono::milliseconds longest);

/// Gives the allocator's free memory back to the system after sessions end. glibc keeps what a
/// session's threads freed in their arenas: a broker that served 300 browser desktops at once
/// stayed at 333 MiB resident after all had closed, and malloc_trim(0) brought it to 47 MiB
/// (docs/benchmarks.md, RDP). `returnMemory` is that call (injected so tests can count it); it
/// runs on this object's own thread, never on a session's.
class MemoryReturn {
 public:
  struct Options {
    std::chrono::milliseconds quiet{5000};     // 5 s: past a session's teardown
    std::chrono::milliseconds longest{30000};  // 30 s: at most twice a minute under churn
  };
  MemoryReturn(Options options, std::function<void()> returnMemory);
  ~MemoryReturn();  // stops the thread (a pending return is dropped)
  MemoryReturn(const MemoryReturn&) = delete;
  MemoryReturn& operator=(const MemoryReturn&) = delete;

  /// A session ended (any thread; never blocks on a return in progress).
  void sessionEnded();
  /// How many times memory was returned so far.
  std::uint64_t returns() const;

 private:
  void run();

  using Clock = std::chrono::steady_clock;
  const Options options_;
  const std::function<void()> returnMemory_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool pending_ = false;
  Clock::time_point firstPendingEnd_;
  Clock::time_point lastEnd_;
  std::uint64_t returns_ = 0;
  std::thread thread_;
};

}  // namespace conduit::app
