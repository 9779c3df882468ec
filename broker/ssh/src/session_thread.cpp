#include "session_thread.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace conduit::ssh {

WakeFd::WakeFd() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

WakeFd::~WakeFd() {
  if (fd_ >= 0) ::close(fd_);
}

void WakeFd::signal() const noexcept {
  const std::uint64_t one = 1;
  if (fd_ >= 0) [[maybe_unused]]
    const auto n = ::write(fd_, &one, sizeof one);
}

bool WakeFd::addTo(ssh_event event) noexcept {
  return fd_ >= 0 && ssh_event_add_fd(event, fd_, POLLIN, &WakeFd::onReadable, this) == SSH_OK;
}

void WakeFd::removeFrom(ssh_event event) noexcept {
  if (fd_ >= 0) ssh_event_remove_fd(event, fd_);
}

void WakeFd::drain() const noexcept {
  std::uint64_t count = 0;
  if (fd_ >= 0 && ::read(fd_, &count, sizeof count) > 0) {
    consumed_.fetch_add(1, std::memory_order_relaxed);
  }
}

int WakeFd::onReadable(socket_t, int, void* self) noexcept {
  static_cast<WakeFd*>(self)->drain();
  return 0;
}

SessionThread::SessionThread(ssh_session session, Pump pump, Idle idle, Deferred deferred)
    : session_(session),
      pump_(std::move(pump)),
      idle_(std::move(idle)),
      deferred_(std::move(deferred)) {}

SessionThread::~SessionThread() {
  stop();
}

core::Status SessionThread::start() {
  event_ = ssh_event_new();
  if (event_ == nullptr || !wake_.addTo(event_) ||
      ssh_event_add_session(event_, session_) != SSH_OK) {
    if (event_ != nullptr) {
      wake_.removeFrom(event_);
      ssh_event_free(event_);
      event_ = nullptr;
    }
    return core::fail(core::ErrorCode::io, "cannot poll the target session");
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ssh-target");  // for top -H, perf and gdb
    run();
  });
  return core::Done{};
}

void SessionThread::post(std::function<void()> task) {
  {
    std::lock_guard lk(mu_);
    tasks_.push_back(std::move(task));
    pending_.store(true, std::memory_order_release);
  }
  wake_.signal();
}

void SessionThread::stop(const std::function<void()>& last) {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lk(mu_);
    if (last) tasks_.emplace_back(last);
    stop_ = true;
    pending_.store(true, std::memory_order_release);
  }
  wake_.signal();
  thread_.join();
  ssh_event_remove_session(event_, session_);
  wake_.removeFrom(event_);
  ssh_event_free(event_);
  event_ = nullptr;
}

bool SessionThread::connected() const noexcept {
  std::lock_guard lk(mu_);
  return connected_;
}

/// Runs the queued tasks; true when stop() asked the thread to end (after its tasks).
bool SessionThread::runTasks() {
  // Runs after every poll (every 4 KiB libssh reads at full speed): nothing allocated unless
  // there is a task.
  if (!pending_.load(std::memory_order_acquire)) return false;
  std::deque<std::function<void()>> tasks;
  bool stopping = false;
  {
    std::lock_guard lk(mu_);
    tasks.swap(tasks_);
    stopping = stop_;
    pending_.store(false, std::memory_order_relaxed);
  }
  for (auto& t : tasks) t();
  return stopping;
}

void SessionThread::run() {
  bool busy = false;
  while (true) {
    // 200 ms when idle: data, tasks and stop() wake the poll at once.
    const int rc = pollRound(
        event_, busy, 200, [this] { return deferred_ && deferred_(); },
        [this] {
          if (idle_) idle_();
        });
    if (runTasks()) return;
    // A pump's libssh calls poll the event and may consume a wake-up (a task posted, room freed
    // by the other side) meant for this loop: then it looks again before it waits. So may a
    // task's own libssh calls, for a task posted while it ran: it is still pending then.
    busy = wake_.busyAfter(pump_) || pending_.load(std::memory_order_acquire);
    if (ssh_is_connected(session_) == 0) {
      bool first = false;
      {
        std::lock_guard lk(mu_);
        first = connected_;
        connected_ = false;
      }
      if (first) pump_();  // lets the relay see the disconnect
      // A dead session can make dopoll return at once: wait on the eventfd alone.
      if (rc == SSH_ERROR) {
        pollfd p{wake_.fd(), POLLIN, 0};
        ::poll(&p, 1, 200);
        wake_.drain();
      }
      busy = false;
    }
  }
}

}  // namespace conduit::ssh
