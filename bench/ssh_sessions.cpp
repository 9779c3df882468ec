// Interactive SSH sessions for the SSH gateway benchmark (issue 5, "Performance"; run by
// bench/ssh_gateway.sh). Every session is a shell command line (normally `exec ssh -tt ...`)
// whose remote side prints READY and then echoes each byte it reads (`stty raw -echo; echo
// READY; exec cat`), so a keystroke's round trip is the time from writing one byte to ssh's
// standard input until the same byte comes back on its standard output.
//
//   bench_ssh_sessions echo SAMPLES GAP_MS LABEL=COMMAND...
//       Starts the sessions one after the other, waits for READY on each, then sends SAMPLES
//       keystrokes to each in turn (round robin, so that noise on the shared machine falls on
//       every path alike), GAP_MS apart, after 10 warm-up keystrokes each. Prints per label:
//       samples, p50, p90, p99 and max round trip in microseconds.
//
//   bench_ssh_sessions hold FILE HOLD_S INTERVAL_MS PARALLEL ROOT_PID
//       Starts one session per line of FILE, at most PARALLEL still logging in at a time, and
//       holds them all open for HOLD_S seconds, each typing one keystroke every INTERVAL_MS
//       (staggered). At the end, one keystroke per session, one session at a time: the
//       responsiveness check. Memory (VmRSS and Pss summed over ROOT_PID and its descendants)
//       and CPU time of the same processes are read before the first session, once all are
//       open, and at the end of the hold.
//
// Output: key=value lines. Exit status: 0 done (failures are reported, not fatal), 1 error,
// 2 usage.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

/// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto n = sorted.size();
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(n) + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, n);
  return sorted[rank - 1];
}

std::string summary(std::vector<double> v, const char* unit = "us") {
  std::sort(v.begin(), v.end());
  char buf[256];
  std::snprintf(buf, sizeof buf, "n=%zu p50_%s=%.0f p90_%s=%.0f p99_%s=%.0f max_%s=%.0f", v.size(),
                unit, percentile(v, 50), unit, percentile(v, 90), unit, percentile(v, 99), unit,
                v.empty() ? 0.0 : v.back());
  return buf;
}

struct Session {
  std::string label;
  std::string command;
  pid_t pid = -1;
  int in = -1;        // ssh's standard input
  int out = -1;       // ssh's standard output
  std::string early;  // output before READY
  bool ready = false;
  bool dead = false;
  Clock::time_point spawned;
  Clock::time_point readyAt;
  bool waiting = false;  // a keystroke is on its way
  char expect = 0;
  char next = 'a';
  Clock::time_point sentAt;
  Clock::time_point nextKey;
  std::size_t unexpected = 0;  // bytes that were not the awaited echo
};

bool spawn(Session& s) {
  int in[2];
  int out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return false;
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return false;
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    // ssh must not outlive the benchmark if it is killed.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::execl("/bin/sh", "sh", "-c", s.command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  s.pid = pid;
  s.in = in[1];
  s.out = out[0];
  ::fcntl(s.out, F_SETFL, ::fcntl(s.out, F_GETFL) | O_NONBLOCK);
  s.spawned = Clock::now();
  return true;
}

void markDead(Session& s) {
  if (s.dead) return;
  s.dead = true;
  s.waiting = false;
  if (s.out >= 0) ::close(s.out);
  s.out = -1;
}

/// Reads what is there. Returns a round trip in microseconds when the awaited echo arrived.
std::optional<double> readSome(Session& s) {
  char buf[4096];
  std::optional<double> rtt;
  for (;;) {
    const ssize_t n = ::read(s.out, buf, sizeof buf);
    if (n == 0) {
      markDead(s);
      return rtt;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) markDead(s);
      return rtt;
    }
    const auto now = Clock::now();
    for (ssize_t i = 0; i < n; ++i) {
      if (!s.ready) {
        s.early.push_back(buf[i]);
        if (s.early.find("READY") != std::string::npos) {
          s.ready = true;
          s.readyAt = now;
          s.early.clear();
        } else if (s.early.size() > 4096) {
          s.early.erase(0, 2048);
        }
      } else if (s.waiting && buf[i] == s.expect) {
        s.waiting = false;
        rtt = micros(now - s.sentAt);
      } else if (buf[i] != '\r' && buf[i] != '\n') {
        ++s.unexpected;
      }
    }
  }
}

bool sendKey(Session& s) {
  if (s.dead || !s.ready) return false;
  s.expect = s.next;
  s.next = s.next == 'z' ? 'a' : static_cast<char>(s.next + 1);
  s.sentAt = Clock::now();
  if (::write(s.in, &s.expect, 1) != 1) {
    markDead(s);
    return false;
  }
  s.waiting = true;
  return true;
}

/// One keystroke, waiting up to `limit` for its echo; other sessions are not served meanwhile.
std::optional<double> keystroke(Session& s, Clock::duration limit) {
  if (!sendKey(s)) return std::nullopt;
  const auto deadline = s.sentAt + limit;
  while (s.waiting && !s.dead) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) return std::nullopt;
    pollfd p{s.out, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (rc < 0 && errno != EINTR) return std::nullopt;
    if (rc > 0) {
      if (auto rtt = readSome(s)) return rtt;
    }
  }
  return std::nullopt;
}

void stopAll(std::vector<Session>& sessions) {
  for (auto& s : sessions) {
    if (s.pid > 0) ::kill(s.pid, SIGTERM);
    if (s.in >= 0) ::close(s.in);
    s.in = -1;
  }
  const auto deadline = Clock::now() + 10s;
  for (auto& s : sessions) {
    if (s.pid <= 0) continue;
    int status = 0;
    while (::waitpid(s.pid, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        ::kill(s.pid, SIGKILL);
        ::waitpid(s.pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
    s.pid = -1;
    markDead(s);
  }
}

// ---- memory and CPU of a process tree ----

struct TreeUsage {
  std::size_t processes = 0;
  long rssKib = 0;
  long pssKib = 0;
  long threads = 0;
  double cpuSeconds = 0;
};

long statusField(const std::filesystem::path& file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + key.size());
  }
  return 0;
}

TreeUsage treeUsage(pid_t root) {
  std::map<pid_t, pid_t> parent;
  std::map<pid_t, double> cpu;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string state;
    long ppid = 0;
    fields >> state >> ppid;
    std::string skip;
    for (int i = 0; i < 9; ++i) fields >> skip;  // pgrp .. cmajflt
    double utime = 0;
    double stime = 0;
    fields >> utime >> stime;
    const auto pid = static_cast<pid_t>(std::atol(name.c_str()));
    parent[pid] = static_cast<pid_t>(ppid);
    cpu[pid] = (utime + stime) / tick;
  }
  TreeUsage u;
  for (const auto& [pid, ppid] : parent) {
    pid_t p = pid;
    int depth = 0;
    while (p != root && p > 1 && depth++ < 64) {
      auto it = parent.find(p);
      p = it == parent.end() ? 0 : it->second;
    }
    if (p != root) continue;
    const std::filesystem::path dir = "/proc/" + std::to_string(pid);
    ++u.processes;
    u.rssKib += statusField(dir / "status", "VmRSS:");
    u.threads += statusField(dir / "status", "Threads:");
    u.pssKib += statusField(dir / "smaps_rollup", "Pss:");
    u.cpuSeconds += cpu[pid];
  }
  return u;
}

void printUsage(const char* when, const TreeUsage& u) {
  std::printf("memory %s: processes=%zu threads=%ld rss_kib=%ld pss_kib=%ld cpu_s=%.2f\n", when,
              u.processes, u.threads, u.rssKib, u.pssKib, u.cpuSeconds);
  std::fflush(stdout);
}

// ---- modes ----

bool waitReady(Session& s, Clock::duration limit) {
  const auto deadline = Clock::now() + limit;
  while (!s.ready && !s.dead && Clock::now() < deadline) {
    pollfd p{s.out, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) readSome(s);
  }
  return s.ready;
}

int echoMode(int samples, int gapMs, const std::vector<std::string>& specs) {
  std::vector<Session> sessions;
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos) return 2;
    Session s;
    s.label = spec.substr(0, eq);
    s.command = spec.substr(eq + 1);
    sessions.push_back(std::move(s));
  }
  for (auto& s : sessions) {
    if (!spawn(s) || !waitReady(s, 60s)) {
      std::fprintf(stderr, "bench_ssh_sessions: %s did not become ready\n", s.label.c_str());
      stopAll(sessions);
      return 1;
    }
  }
  std::vector<std::vector<double>> rtts(sessions.size());
  for (int i = -10; i < samples; ++i) {
    for (std::size_t k = 0; k < sessions.size(); ++k) {
      auto rtt = keystroke(sessions[k], 5s);
      if (!rtt) {
        std::fprintf(stderr, "bench_ssh_sessions: %s: no echo within 5 s\n",
                     sessions[k].label.c_str());
        stopAll(sessions);
        return 1;
      }
      if (i >= 0) rtts[k].push_back(*rtt);
      std::this_thread::sleep_for(std::chrono::milliseconds(gapMs));
    }
  }
  for (std::size_t k = 0; k < sessions.size(); ++k) {
    std::printf("echo %s %s\n", sessions[k].label.c_str(), summary(rtts[k]).c_str());
  }
  stopAll(sessions);
  return 0;
}

int holdMode(const std::string& file, int holdS, int intervalMs, int parallel, pid_t root) {
  std::vector<Session> sessions;
  {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      Session s;
      s.label = std::to_string(sessions.size());
      s.command = line;
      sessions.push_back(std::move(s));
    }
  }
  if (sessions.empty()) return 2;
  const std::size_t n = sessions.size();
  printUsage("before", treeUsage(root));

  // Log in, at most `parallel` at a time.
  const auto loginLimit = 120s;
  const auto start = Clock::now();
  std::size_t launched = 0;
  std::size_t failed = 0;
  std::vector<pollfd> fds;
  std::vector<std::size_t> index;
  for (;;) {
    std::size_t pending = 0;
    for (std::size_t i = 0; i < launched; ++i) {
      auto& s = sessions[i];
      if (s.ready || s.dead) continue;
      if (Clock::now() - s.spawned > loginLimit) {
        ::kill(s.pid, SIGTERM);
        markDead(s);
        continue;
      }
      ++pending;
    }
    while (pending < static_cast<std::size_t>(parallel) && launched < n) {
      if (!spawn(sessions[launched])) {
        std::fprintf(stderr, "bench_ssh_sessions: fork failed: %s\n", std::strerror(errno));
        stopAll(sessions);
        return 1;
      }
      ++launched;
      ++pending;
    }
    if (pending == 0 && launched == n) break;
    fds.clear();
    index.clear();
    for (std::size_t i = 0; i < launched; ++i) {
      if (!sessions[i].ready && !sessions[i].dead) {
        fds.push_back({sessions[i].out, POLLIN, 0});
        index.push_back(i);
      }
    }
    if (::poll(fds.data(), fds.size(), 100) > 0) {
      for (std::size_t k = 0; k < fds.size(); ++k) {
        if (fds[k].revents != 0) readSome(sessions[index[k]]);
      }
    }
  }
  std::vector<double> loginMs;
  for (auto& s : sessions) {
    if (s.ready) {
      loginMs.push_back(std::chrono::duration<double, std::milli>(s.readyAt - s.spawned).count());
    } else {
      ++failed;
    }
  }
  std::printf("login: sessions=%zu ready=%zu failed=%zu all_in_s=%.1f time_to_ready %s\n", n,
              n - failed, failed, std::chrono::duration<double>(Clock::now() - start).count(),
              summary(loginMs, "ms").c_str());
  std::fflush(stdout);
  std::this_thread::sleep_for(2s);  // let allocations settle
  const TreeUsage open = treeUsage(root);
  printUsage("open", open);

  // Hold: every session types one key every intervalMs, staggered over the interval.
  const auto interval = std::chrono::milliseconds(intervalMs);
  const auto holdStart = Clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    sessions[i].nextKey = holdStart + interval * static_cast<long>(i) / static_cast<long>(n);
  }
  std::vector<double> holdRtts;
  std::size_t late = 0;  // a keystroke due while the previous one was still unanswered
  const auto holdEnd = holdStart + std::chrono::seconds(holdS);
  while (Clock::now() < holdEnd) {
    auto now = Clock::now();
    auto wake = holdEnd;
    for (auto& s : sessions) {
      if (!s.ready || s.dead) continue;
      if (now >= s.nextKey) {
        if (s.waiting) {
          ++late;
        } else {
          sendKey(s);
        }
        s.nextKey += interval;
      }
      wake = std::min(wake, s.nextKey);
    }
    fds.clear();
    index.clear();
    for (std::size_t i = 0; i < n; ++i) {
      if (sessions[i].ready && !sessions[i].dead) {
        fds.push_back({sessions[i].out, POLLIN, 0});
        index.push_back(i);
      }
    }
    const auto waitMs = std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now());
    const int rc =
        ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long>(0, waitMs.count())));
    if (rc > 0) {
      for (std::size_t k = 0; k < fds.size(); ++k) {
        if (fds[k].revents == 0) continue;
        if (auto rtt = readSome(sessions[index[k]])) holdRtts.push_back(*rtt);
      }
    }
  }
  // Answers still on their way.
  const auto drainEnd = Clock::now() + 5s;
  for (auto& s : sessions) {
    while (s.waiting && !s.dead && Clock::now() < drainEnd) {
      pollfd p{s.out, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        if (auto rtt = readSome(s)) holdRtts.push_back(*rtt);
      }
    }
  }
  std::size_t diedDuringHold = 0;
  std::size_t unexpected = 0;
  for (const auto& s : sessions) {
    if (s.ready && s.dead) ++diedDuringHold;
    unexpected += s.unexpected;
  }
  std::printf(
      "hold: seconds=%d interval_ms=%d keystrokes_answered=%zu late=%zu died=%zu "
      "unexpected_bytes=%zu round_trip %s\n",
      holdS, intervalMs, holdRtts.size(), late, diedDuringHold, unexpected,
      summary(holdRtts).c_str());
  const TreeUsage end = treeUsage(root);
  printUsage("end", end);
  std::printf("hold cpu: %.2f CPU-seconds in %d s (%.0f%% of one core)\n",
              end.cpuSeconds - open.cpuSeconds, holdS,
              100.0 * (end.cpuSeconds - open.cpuSeconds) / holdS);

  // Responsiveness at the end: one keystroke per session, one session at a time.
  std::vector<double> finalRtts;
  std::size_t responsive = 0;
  for (auto& s : sessions) {
    if (!s.ready || s.dead) continue;
    if (auto rtt = keystroke(s, 5s)) {
      ++responsive;
      finalRtts.push_back(*rtt);
    }
  }
  std::printf("final: sessions=%zu responsive=%zu (echo within 5 s) round_trip %s\n", n, responsive,
              summary(finalRtts).c_str());
  std::fflush(stdout);
  stopAll(sessions);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "echo" && argc >= 5) {
    return echoMode(std::atoi(argv[2]), std::atoi(argv[3]),
                    std::vector<std::string>(argv + 4, argv + argc));
  }
  if (mode == "hold" && argc == 7) {
    return holdMode(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), std::atoi(argv[5]),
                    static_cast<pid_t>(std::atol(argv[6])));
  }
  std::fprintf(stderr,
               "usage: bench_ssh_sessions echo SAMPLES GAP_MS LABEL=COMMAND...\n"
               "       bench_ssh_sessions hold FILE HOLD_S INTERVAL_MS PARALLEL ROOT_PID\n");
  return 2;
}
