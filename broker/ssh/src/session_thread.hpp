#pragma once

// One libssh session's event loop on a thread of its own. The relay runs the target side of a
// gateway session here and the vendor side on the connection's thread, so decrypting one side
// and encrypting the other run on two cores at once (../shared/testing.md measured a relay
// built this way at 1.1x-1.7x OpenSSH's ProxyJump, and one thread for both sides slower).
// libssh sessions are not thread-safe: after start(), only this thread touches the session and
// its channels; other threads hand it work through call() and wake it with wake().

#include <libssh/libssh.h>

#include <atomic>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <type_traits>

#include "conduit/core/result.hpp"

namespace conduit::ssh {

/// An eventfd that wakes a libssh event loop from another thread.
class WakeFd {
 public:
  WakeFd();
  ~WakeFd();
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;
  bool valid() const noexcept { return fd_ >= 0; }
  int fd() const noexcept { return fd_; }
  /// Makes the fd readable (any thread).
  void signal() const noexcept;
  /// Consumes pending signals.
  void drain() const noexcept;
  /// How many times pending signals were consumed (the loop's thread): a loop that runs libssh
  /// calls between its polls compares it around them, because such a call polls the whole
  /// event and can consume a signal that meant "look again" (the loop must not wait then).
  std::uint64_t consumed() const noexcept { return consumed_.load(std::memory_order_relaxed); }
  /// Runs a loop's step between its polls (its libssh calls, which poll the whole event) and
  /// returns the step's "busy": also true when the step consumed a wake-up, so that the loop
  /// looks again instead of waiting.
  template <class Step>
  bool busyAfter(Step&& step) {
    const std::uint64_t seen = consumed();
    const bool busy = step();
    return busy || consumed() != seen;
  }
  /// Adds the fd to `event`; readiness is consumed by the loop. False if libssh refused.
  bool addTo(ssh_event event) noexcept;
  void removeFrom(ssh_event event) noexcept;

 private:
  static int onReadable(socket_t fd, int revents, void* self) noexcept;
  int fd_ = -1;
  mutable std::atomic<std::uint64_t> consumed_{0};
};

/// One round of a relay loop's polling; returns the last poll's result. Busy: a poll that does
/// not wait. Otherwise the loop waits up to `waitMs` (data and wake-ups end the wait at once),
/// after `release()`; when `deferred()` says release() has something to let go (bytes held
/// back to go in one piece), a poll that does not wait comes first, to see whether more is
/// coming. Nothing deferred: the waiting poll alone, one system call less per quiet round trip.
template <class Deferred, class Release>
int pollRound(ssh_event event, bool busy, int waitMs, Deferred&& deferred, Release&& release) {
  if (busy) return ssh_event_dopoll(event, 0);
  if (deferred()) {
    const int rc = ssh_event_dopoll(event, 0);
    if (rc != SSH_AGAIN) return rc;
  }
  release();
  return ssh_event_dopoll(event, waitMs);
}

class SessionThread {
 public:
  /// Runs on the thread after every poll and task; returns true when it has work it can do at
  /// once (the next poll does not wait then).
  using Pump = std::function<bool()>;

  /// Runs on the thread when it has nothing to do, just before it waits (after a poll that
  /// does not wait found nothing, where Deferred said there was something to release).
  using Idle = std::function<void()>;

  /// Whether Idle has something to release (the thread's own state, read on the thread); see
  /// pollRound().
  using Deferred = std::function<bool()>;

  SessionThread(ssh_session session, Pump pump, Idle idle = {}, Deferred deferred = {});
  ~SessionThread();  // stop()
  SessionThread(const SessionThread&) = delete;
  SessionThread& operator=(const SessionThread&) = delete;

  /// Moves the session into a new event and starts the thread; fails if libssh or the kernel
  /// refuses the event or the eventfd.
  core::Status start();

  /// Runs f on the thread (between polls) and returns its result; waits for it. Calls from the
  /// thread itself run at once. f must not wait for the caller's thread.
  template <class F>
  auto call(F f) -> std::invoke_result_t<F&> {
    using R = std::invoke_result_t<F&>;
    if (std::this_thread::get_id() == thread_.get_id() || !thread_.joinable()) return f();
    std::packaged_task<R()> task(std::move(f));
    auto result = task.get_future();
    post([&task] { task(); });
    return result.get();
  }

  /// Makes the thread poll and pump again soon (any thread).
  void wake() const noexcept { wake_.signal(); }

  /// Runs `last` on the thread, stops it and joins. Idempotent.
  void stop(const std::function<void()>& last = {});

  /// False once the session lost its connection (read on any thread).
  bool connected() const noexcept;

 private:
  void post(std::function<void()> task);
  void run();
  bool runTasks();

  ssh_session session_;
  Pump pump_;
  Idle idle_;
  Deferred deferred_;
  ssh_event event_ = nullptr;
  WakeFd wake_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  bool connected_ = true;
  std::atomic<bool> pending_{false};  // tasks_ is not empty, or stop_ is set
};

}  // namespace conduit::ssh
