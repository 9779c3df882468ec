#include "worker_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

extern char** environ;

namespace conduit::rdp {

using core::ErrorCode;
using core::fail;

core::Result<std::unique_ptr<WorkerProcess>> WorkerProcess::spawn(
    const std::filesystem::path& path) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return fail(ErrorCode::io, std::string("socketpair: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  // dup2 clears close-on-exec on the copy; everything from 4 up (the database, sockets, the
  // vault's files) is closed in the child, so the worker holds nothing but its own session.
  posix_spawn_file_actions_adddup2(&actions, fds[1], 3);
  posix_spawn_file_actions_addclosefrom_np(&actions, 4);
  const std::string program = path.string();
  std::vector<char*> argv = {const_cast<char*>(program.c_str()), const_cast<char*>("--fd"),
                             const_cast<char*>("3"), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return fail(ErrorCode::unavailable,
                "cannot start the RDP worker " + program + ": " + std::strerror(rc));
  }
  return std::unique_ptr<WorkerProcess>(new WorkerProcess(pid, fds[0]));
}

WorkerProcess::~WorkerProcess() {
  (void)stop(std::chrono::milliseconds{0});
  if (fd_ >= 0) ::close(fd_);
}

core::Status WorkerProcess::write(std::span<const std::uint8_t> bytes,
                                  std::chrono::milliseconds timeout) {
  std::lock_guard lock(writeMutex_);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      const int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (r == 0) return fail(ErrorCode::unavailable, "the RDP worker stopped reading");
      if (r < 0 && errno != EINTR) return fail(ErrorCode::io, std::strerror(errno));
      continue;
    }
    return fail(ErrorCode::unavailable, "the RDP worker is gone");
  }
  return core::Done{};
}

std::string WorkerProcess::stop(std::chrono::milliseconds grace) {
  std::lock_guard lock(stopMutex_);
  if (!ended_.empty()) return ended_;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  pid_t r = 0;
  while ((r = ::waitpid(pid_, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  if (r == 0) {
    ::kill(pid_, SIGKILL);
    r = ::waitpid(pid_, &status, 0);
  }
  if (r != pid_) {
    ended_ = "unknown";
  } else if (WIFSIGNALED(status)) {
    ended_ = "signal " + std::to_string(WTERMSIG(status));
  } else {
    ended_ = "exit " + std::to_string(WEXITSTATUS(status));
  }
  return ended_;
}

}  // namespace conduit::rdp
