#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace conduit::test {

/// A child process with its stderr captured (stdout goes to the test's stdout). Killed with
/// SIGKILL if still running when destroyed, so a failed test never leaves a server behind.
class Process {
 public:
  explicit Process(const std::vector<std::string>& argv);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;

  /// Reads stderr until a line contains `needle` or the timeout passes; returns that line.
  std::optional<std::string> waitForLine(const std::string& needle,
                                         std::chrono::milliseconds timeout);

  /// Waits for exit; returns the exit code (128+signal if killed), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  /// Everything read from stderr so far (after wait(), everything it wrote).
  const std::string& errors() const { return stderr_; }

 private:
  void pump(std::chrono::milliseconds timeout);
  pid_t pid_ = -1;
  int errFd_ = -1;
  std::string stderr_;
  std::size_t scanned_ = 0;
  std::optional<int> status_;
};

/// Runs a command to completion; returns {exit code, stdout+stderr}.
std::pair<int, std::string> runCommand(const std::vector<std::string>& argv);

}  // namespace conduit::test
