#pragma once

// One conduit-rdp-worker child process and the broker's end of its socketpair.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <span>
#include <string>

#include "conduit/core/result.hpp"

namespace conduit::rdp {

class WorkerProcess {
 public:
  /// Starts `path --fd 3` with only stdin (/dev/null), stdout, stderr and its end of a new
  /// socketpair open (every other descriptor of the broker is closed in the child).
  static core::Result<std::unique_ptr<WorkerProcess>> spawn(const std::filesystem::path& path);

  /// Kills the worker if still running and reaps it.
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  int fd() const noexcept { return fd_; }
  pid_t pid() const noexcept { return pid_; }

  /// Writes all bytes (thread-safe: frames from different threads never interleave). Fails
  /// with unavailable if the worker took none of them for `timeout` (it stopped reading) or
  /// the socket is closed.
  core::Status write(std::span<const std::uint8_t> bytes,
                     std::chrono::milliseconds timeout = std::chrono::seconds{2});

  /// Waits up to `grace` for the worker to exit, then kills it. Returns how it ended
  /// ("exit 0", "signal 11"). Idempotent.
  std::string stop(std::chrono::milliseconds grace);

 private:
  WorkerProcess(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  pid_t pid_;
  int fd_;
  std::mutex writeMutex_;
  std::mutex stopMutex_;
  std::string ended_;
};

}  // namespace conduit::rdp
