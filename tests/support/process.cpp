#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

namespace conduit::test {

namespace {
std::vector<char*> cArgs(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

int decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}
}  // namespace

Process::Process(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  auto args = cArgs(argv);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // If the test dies without running destructors (a crash, a timeout kill), its servers die
    // with it instead of holding ctest's output pipe open for ever.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(fds[1], 2);
    // The test process may block signals; the child starts with a clean mask.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  errFd_ = fds[0];
}

Process::~Process() {
  if (!status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  if (errFd_ >= 0) ::close(errFd_);
}

void Process::signal(int sig) const {
  ::kill(pid_, sig);
}

void Process::pump(std::chrono::milliseconds timeout) {
  if (errFd_ < 0) {
    std::this_thread::sleep_for(timeout);
    return;
  }
  pollfd p{errFd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return;
  char buf[4096];
  const ssize_t n = ::read(errFd_, buf, sizeof buf);
  if (n > 0) {
    stderr_.append(buf, static_cast<std::size_t>(n));
  } else {
    ::close(errFd_);
    errFd_ = -1;
  }
}

std::optional<std::string> Process::waitForLine(const std::string& needle,
                                                std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto pos = stderr_.find(needle, scanned_);
    if (pos != std::string::npos) {
      const auto start = stderr_.rfind('\n', pos);
      const auto stop = stderr_.find('\n', pos);
      const auto from = start == std::string::npos ? 0 : start + 1;
      return stderr_.substr(from, stop == std::string::npos ? std::string::npos : stop - from);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= end || errFd_ < 0) return std::nullopt;
    pump(std::min(std::chrono::duration_cast<std::chrono::milliseconds>(end - now),
                  std::chrono::milliseconds(100)));
  }
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      while (errFd_ >= 0) pump(std::chrono::milliseconds(100));
      status_ = decode(st);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= end) return std::nullopt;
    pump(std::chrono::milliseconds(20));
  }
}

std::pair<int, std::string> runCommand(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  auto args = cArgs(argv);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  return {decode(st), out};
}

}  // namespace conduit::test
