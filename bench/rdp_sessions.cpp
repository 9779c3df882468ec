// Browser RDP sessions for the RDP benchmark (run by bench/rdp.sh; docs/benchmarks.md "RDP").
// Through the portal, a session is what the browser page does: the WebSocket
// /api/v1/rdp?asset=ASSET&width=1024&height=768 with the vendor's session cookie, tiles (0x82)
// and frame ends (0x83) read, every frame acknowledged ({"type":"ack","seq":N}) as soon as its
// frame end is read (a browser that draws instantly). The baseline is conduit-rdp-worker alone,
// driven over its socketpair as the broker drives it (broker/rdp worker protocol): the same
// FreeRDP client, tiles and flow control, without the broker (no grant check, vault, recording,
// tile checks or WebSocket).
//
// Common options (before the mode):
//   --portal PORT --cookie VALUE[,VALUE...] --asset NAME
//                                                       the portal and the signed-in vendors
//                                                       (session i of `many` uses cookie i mod
//                                                       the count; the others the first)
//   --worker PATH --target HOST:PORT --user NAME --password-file FILE --fingerprint SHA256
//                                                       the worker alone (same RDP server)
//   --desktop WIDTHxHEIGHT                              the desktop asked for (1024x768)
//   --broker-pid PID                                    `conduit serve` (its children are the
//                                                       workers of portal sessions)
//   (environment: WORKER_LOG=FILE appends the stderr of the workers alone to FILE)
//   --other-pids PID,PID...                             the RDP server side (the shadow
//                                                       server first, then Xvfb, xterms): CPU
//                                                       reported apart
// Modes:
//   first RUNS            time to the first frame, RUNS times per path, interleaved: through the
//                         portal from the WebSocket connect (TCP + TLS + upgrade) to the first
//                         frame end; the worker alone from its spawn (and, apart, from the
//                         connect frame) to its first frame end.
//   input RUNS            one session per path, one after the other, on the idle screen: RUNS
//                         key presses (press and release) into the xterm, alternately "a" and
//                         Backspace, 250 ms or more apart; from sending the press to the end
//                         of the first frame with tiles (the echo): p50, p90, p99, max.
//   stream SECONDS        one session per path, one after the other, each measured for SECONDS
//                         after its first frame: frames and bytes per second received, CPU of
//                         the broker and of the worker over the window, memory.
//   many SECONDS N...     for each N: N portal sessions at once (opened at most OPEN_PARALLEL at
//                         a time, env, default 4), then SECONDS of measurement: frames per
//                         second per session, CPU of the broker, of the workers and of the RDP
//                         server side, memory; then all closed, and the same with N workers
//                         alone, before the next N.
//
// Output: key=value lines. Exit status: 0 done, 1 error, 2 usage.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "conduit/rdp/worker_protocol.hpp"
#include "portal/ws_client.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace rdp = conduit::rdp;

struct Options {
  std::uint16_t portal = 0;
  std::vector<std::string> cookies;
  std::string asset = "desk";
  std::string worker;
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string user;
  std::string password;
  std::string fingerprint;
  int brokerPid = 0;
  std::vector<int> otherPids;
  int width = 1024;
  int height = 768;
};
Options opt;

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}
double secs(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// ---- /proc --------------------------------------------------------------------------------

const double kTick = static_cast<double>(::sysconf(_SC_CLK_TCK));

/// utime + stime of PID in seconds (0 if gone).
double cpuOf(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = s.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(s.substr(close + 2));
  std::string field;
  double ut = 0, st = 0;
  // Fields from 3 (state) on; utime is 14, stime 15.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) ut = std::stod(field);
    if (i == 15) st = std::stod(field);
  }
  return (ut + st) / kTick;
}

/// A field of /proc/PID/status in KiB ("VmRSS"), 0 if gone.
long statusKib(int pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::atol(line.c_str() + key.size() + 1);
  }
  return 0;
}

/// Pss of PID in KiB (smaps_rollup), 0 if gone.
long pssKib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Pss:", 0) == 0) return std::atol(line.c_str() + 4);
  }
  return 0;
}

/// The RDP workers `conduit serve` runs now (its children named conduit-rdp-worker).
std::vector<int> brokerWorkers() {
  std::vector<int> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream in(e.path() / "stat");
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto open = s.find('('), close = s.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    const std::string comm = s.substr(open + 1, close - open - 1);
    std::istringstream rest(s.substr(close + 2));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == opt.brokerPid && comm.rfind("conduit-rdp-wor", 0) == 0 && state != "Z")
      out.push_back(std::stoi(name));
  }
  return out;
}

/// Waits until the broker runs no worker (sessions ended); false after the timeout.
bool waitNoWorkers(std::chrono::seconds timeout) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (brokerWorkers().empty()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

/// Busy and total jiffies of the whole machine (/proc/stat "cpu" line).
std::pair<double, double> machineJiffies() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  double v[10] = {};
  double total = 0;
  for (double& x : v) {
    in >> x;
    total += x;
  }
  const double idle = v[3] + v[4];
  return {total - idle, total};
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

/// CPU seconds of a group of processes and of the machine over a window.
struct CpuWindow {
  std::map<int, double> start;
  std::pair<double, double> machine;
  Clock::time_point at;
  void begin(const std::vector<int>& pids) {
    for (int p : pids) start[p] = cpuOf(p);
    machine = machineJiffies();
    at = Clock::now();
  }
  double used(const std::vector<int>& pids) const {
    double sum = 0;
    for (int p : pids) {
      const auto it = start.find(p);
      sum += cpuOf(p) - (it == start.end() ? 0 : it->second);
    }
    return sum;
  }
  /// Busy share of all cores over the window (1.0 = every core busy).
  double machineBusy() const {
    const auto now = machineJiffies();
    return (now.first - machine.first) / std::max(1.0, now.second - machine.second);
  }
};

// ---- the portal path ----------------------------------------------------------------------

std::uint32_t u32(const std::string& b, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 4; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

/// One browser session through the portal.
struct PortalSession {
  conduit::test::WsClient ws;
  std::string error;
  std::size_t vendor = 0;  // which of opt.cookies

  bool open() {
    const int status =
        ws.connect(opt.portal,
                   "/api/v1/rdp?asset=" + opt.asset + "&width=" + std::to_string(opt.width) +
                       "&height=" + std::to_string(opt.height),
                   "__Host-conduit-session=" + opt.cookies.at(vendor % opt.cookies.size()),
                   "https://127.0.0.1:" + std::to_string(opt.portal));
    if (status != 101) {
      error = "upgrade answered " + std::to_string(status) + ": " + ws.refusalBody();
      return false;
    }
    return true;
  }

  /// A key press and release, as the page sends them.
  void press(std::uint16_t scancode) {
    for (const char* down : {"true", "false"}) {
      ws.sendText(R"({"type":"key","code":)" + std::to_string(scancode) + R"(,"down":)" + down +
                  "}");
    }
  }
  bool closed() const { return ws.closed(); }

  /// Reads until the next frame end and acknowledges it. Adds the binary bytes read to
  /// `bytes`. False when the session closed or nothing came within the timeout.
  bool frame(std::uint64_t& bytes, bool& keyframe, std::chrono::milliseconds timeout = 10s) {
    const auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      auto m = ws.read(std::max(left, 1ms));
      if (!m) {
        error = "no frame (closed: " + ws.closeReason() + ")";
        return false;
      }
      if (!m->binary) {
        if (m->data.find("\"closed\"") != std::string::npos) {
          error = "closed: " + m->data;
          return false;
        }
        continue;  // started, notices
      }
      bytes += m->data.size();
      if (!m->data.empty() && static_cast<unsigned char>(m->data[0]) == 0x83 &&
          m->data.size() >= 6) {
        keyframe = m->data[5] == 1;
        ws.sendText(R"({"type":"ack","seq":)" + std::to_string(u32(m->data, 1)) + "}");
        return true;
      }
    }
    error = "no frame within the timeout";
    return false;
  }
};

// ---- the worker alone ---------------------------------------------------------------------

/// conduit-rdp-worker with this end of its socketpair, driven as the broker drives it.
struct WorkerAlone {
  int fd = -1;
  pid_t pid = -1;
  rdp::FrameReader reader;
  std::vector<rdp::Frame> pending;
  std::string error;

  WorkerAlone() = default;
  /// Starts the worker: send the connect frame soon after (it waits only seconds for it).
  void spawn() {
    // One spawn at a time: another thread's worker must not inherit this worker's end.
    static std::mutex spawning;
    std::lock_guard lock(spawning);
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      throw std::runtime_error("socketpair");
    fd = fds[0];
    const int child = ::fcntl(fds[1], F_DUPFD, 3);    // without O_CLOEXEC: the worker's end
    const std::string fdArg = std::to_string(child);  // no allocation after fork
    // The workers' stderr: WORKER_LOG (appended) or nowhere.
    const char* log = std::getenv("WORKER_LOG");
    pid = ::fork();
    if (pid == 0) {
      const int out = log ? ::open(log, O_WRONLY | O_APPEND | O_CREAT, 0600) : -1;
      ::dup2(out >= 0 ? out : ::open("/dev/null", O_WRONLY), 2);
      ::execl(opt.worker.c_str(), opt.worker.c_str(), "--fd", fdArg.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(child);
    ::close(fds[1]);
  }
  ~WorkerAlone() {
    if (pid <= 0) return;
    const auto bye = rdp::encodeFrame(rdp::MessageType::close, {});
    (void)::send(fd, bye.data(), bye.size(), MSG_NOSIGNAL);
    ::close(fd);
    for (int i = 0; i < 40; ++i) {
      if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
      std::this_thread::sleep_for(50ms);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }

  void send(const rdp::Bytes& b) { (void)::send(fd, b.data(), b.size(), MSG_NOSIGNAL); }
  /// A key press and release, as the broker forwards them.
  void press(std::uint16_t scancode) {
    send(rdp::encodeKey({.down = true, .scancode = scancode}));
    send(rdp::encodeKey({.down = false, .scancode = scancode}));
  }
  bool closed() const { return error == "worker closed its socket"; }

  void connect() {
    rdp::ConnectRequest r;
    r.host = opt.host;
    r.port = opt.port;
    r.username = opt.user;
    r.certificateSha256 = opt.fingerprint;
    r.width = opt.width;
    r.height = opt.height;
    r.security = rdp::Security::any;  // as the broker asks
    r.connectTimeoutMs = 60000;
    r.keyframeSeconds = 20;  // the broker's rdp.keyframe_seconds default
    auto frame = rdp::encodeConnect(
        r,
        std::span(reinterpret_cast<const std::uint8_t*>(opt.password.data()), opt.password.size()));
    send(frame);
    std::fill(frame.begin(), frame.end(), 0);
  }

  std::optional<rdp::Frame> next(Clock::time_point end) {
    while (pending.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      std::uint8_t buf[1 << 16];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        error = "worker closed its socket";
        return std::nullopt;
      }
      auto frames = reader.feed(std::span(buf, static_cast<std::size_t>(n)));
      if (!frames.ok()) {
        error = "bad frame from the worker";
        return std::nullopt;
      }
      for (auto& f : *frames) pending.push_back(std::move(f));
    }
    rdp::Frame f = std::move(pending.front());
    pending.erase(pending.begin());
    return f;
  }

  /// Reads until the next frame end and acknowledges it; adds the bytes the browser would get
  /// (type + body: the WebSocket message) to `bytes`.
  bool frame(std::uint64_t& bytes, bool& keyframe, std::chrono::milliseconds timeout = 10s) {
    const auto end = Clock::now() + timeout;
    for (;;) {
      auto f = next(end);
      if (!f) {
        if (error.empty()) error = "no frame within the timeout";
        return false;
      }
      switch (f->type) {
        case rdp::MessageType::connected:
          continue;
        case rdp::MessageType::tile:
          bytes += 1 + f->body.size();
          continue;
        case rdp::MessageType::frame_end: {
          bytes += 1 + f->body.size();
          auto e = rdp::decodeFrameEnd(f->body);
          if (!e.ok()) return false;
          keyframe = e->keyframe;
          send(rdp::encodeAck(e->sequence));
          return true;
        }
        default:
          error = "worker: " + std::string(f->body.begin(), f->body.end());
          return false;
      }
    }
  }
};

// ---- modes --------------------------------------------------------------------------------

int first(int runs) {
  std::vector<double> portal, worker, workerConnect;
  for (int i = 0; i < runs; ++i) {
    {
      waitNoWorkers(20s);
      PortalSession s;
      const auto t0 = Clock::now();
      std::uint64_t bytes = 0;
      bool key = false;
      if (!s.open() || !s.frame(bytes, key, 30s)) {
        std::printf("first.portal.error=%s\n", s.error.c_str());
        return 1;
      }
      portal.push_back(ms(Clock::now() - t0));
      std::printf("first.portal.run%d_ms=%.0f keyframe=%d bytes=%llu\n", i + 1, portal.back(),
                  key ? 1 : 0, static_cast<unsigned long long>(bytes));
    }
    {
      const auto t0 = Clock::now();
      WorkerAlone w;
      w.spawn();
      const auto t1 = Clock::now();
      w.connect();
      std::uint64_t bytes = 0;
      bool key = false;
      if (!w.frame(bytes, key, 30s)) {
        std::printf("first.worker.error=%s\n", w.error.c_str());
        return 1;
      }
      const auto t2 = Clock::now();
      worker.push_back(ms(t2 - t0));
      workerConnect.push_back(ms(t2 - t1));
      std::printf("first.worker.run%d_ms=%.0f from_connect_frame_ms=%.0f keyframe=%d bytes=%llu\n",
                  i + 1, worker.back(), workerConnect.back(), key ? 1 : 0,
                  static_cast<unsigned long long>(bytes));
    }
    std::fflush(stdout);
  }
  std::printf("first.portal.median_ms=%.0f min=%.0f max=%.0f\n", median(portal),
              *std::min_element(portal.begin(), portal.end()),
              *std::max_element(portal.begin(), portal.end()));
  std::printf("first.worker.median_ms=%.0f min=%.0f max=%.0f from_connect_frame_median_ms=%.0f\n",
              median(worker), *std::min_element(worker.begin(), worker.end()),
              *std::max_element(worker.begin(), worker.end()), median(workerConnect));
  std::printf("first.portal_minus_worker_median_ms=%.0f\n", median(portal) - median(worker));
  return 0;
}

/// Reads frames until none comes for `quiet`; false if the session closed.
template <class Session>
bool drain(Session& s, std::chrono::milliseconds quiet) {
  for (;;) {
    std::uint64_t bytes = 0;
    bool key = false;
    if (!s.frame(bytes, key, quiet)) return !s.closed();
  }
}

// A frame end alone (type, u32 sequence, u8 keyframe): a frame with more carried tiles.
constexpr std::uint64_t kFrameEndBytes = 6;

/// `runs` key presses into the idle xterm (`cat`), alternately "a" and Backspace so the screen
/// stays as it was: from sending the press to the end of the first frame with tiles.
template <class Session>
bool keyLatencies(Session& s, int runs, std::vector<double>& out) {
  if (!drain(s, 1000ms)) return false;
  for (int i = 0; i < runs; ++i) {
    const std::uint16_t scancode = i % 2 == 0 ? 0x1E : 0x0E;  // a, Backspace
    const auto t0 = Clock::now();
    s.press(scancode);
    for (;;) {
      std::uint64_t bytes = 0;
      bool key = false;
      if (!s.frame(bytes, key, 3s)) return false;
      if (bytes > kFrameEndBytes) break;
    }
    out.push_back(ms(Clock::now() - t0));
    std::this_thread::sleep_for(100ms);
    if (!drain(s, 150ms)) return false;
  }
  return true;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.at(static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
}

int input(int runs) {
  std::vector<double> portal, worker;
  {
    waitNoWorkers(20s);
    PortalSession s;
    std::uint64_t bytes = 0;
    bool key = false;
    if (!s.open() || !s.frame(bytes, key, 30s) || !keyLatencies(s, runs, portal)) {
      std::printf("input.portal.error=%s\n", s.error.c_str());
      return 1;
    }
  }
  {
    waitNoWorkers(20s);
    WorkerAlone w;
    w.spawn();
    w.connect();
    std::uint64_t bytes = 0;
    bool key = false;
    if (!w.frame(bytes, key, 30s) || !keyLatencies(w, runs, worker)) {
      std::printf("input.worker.error=%s\n", w.error.c_str());
      return 1;
    }
  }
  for (auto [name, v] : {std::pair{"portal", &portal}, std::pair{"worker", &worker}}) {
    std::printf("input.%s.n=%zu p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f\n", name, v->size(),
                percentile(*v, 0.5), percentile(*v, 0.9), percentile(*v, 0.99),
                *std::max_element(v->begin(), v->end()));
  }
  std::printf("input.portal_minus_worker_p50_ms=%.1f p99_ms=%.1f\n",
              percentile(portal, 0.5) - percentile(worker, 0.5),
              percentile(portal, 0.99) - percentile(worker, 0.99));
  return 0;
}

/// Frames, bytes and frame times of one measured window.
struct Stream {
  int frames = 0;
  int keyframes = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;
  double maxGapMs = 0;
};

template <class Session>
bool measure(Session& s, int seconds, Stream& out) {
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  auto last = start;
  while (Clock::now() < end) {
    bool key = false;
    if (!s.frame(out.bytes, key)) return false;
    const auto now = Clock::now();
    out.maxGapMs = std::max(out.maxGapMs, ms(now - last));
    last = now;
    ++out.frames;
    out.keyframes += key ? 1 : 0;
  }
  out.seconds = secs(Clock::now() - start);
  return true;
}

void printStream(const char* path, const Stream& s) {
  std::printf(
      "stream.%s.frames=%d seconds=%.2f fps=%.1f bytes=%llu bytes_per_s=%.0f "
      "mib_per_s=%.2f keyframes=%d max_gap_ms=%.0f\n",
      path, s.frames, s.seconds, s.frames / s.seconds, static_cast<unsigned long long>(s.bytes),
      static_cast<double>(s.bytes) / s.seconds,
      static_cast<double>(s.bytes) / s.seconds / 1048576.0, s.keyframes, s.maxGapMs);
}

int stream(int seconds) {
  // Through the portal.
  waitNoWorkers(20s);
  {
    const long rssBefore = statusKib(opt.brokerPid, "VmRSS");
    PortalSession s;
    std::uint64_t bytes = 0;
    bool key = false;
    if (!s.open() || !s.frame(bytes, key, 30s)) {
      std::printf("stream.portal.error=%s\n", s.error.c_str());
      return 1;
    }
    const auto workers = brokerWorkers();
    if (workers.size() != 1) {
      std::printf("stream.portal.error=%zu workers\n", workers.size());
      return 1;
    }
    const int worker = workers[0];
    std::vector<int> all = {opt.brokerPid, worker};
    all.insert(all.end(), opt.otherPids.begin(), opt.otherPids.end());
    CpuWindow cpu;
    cpu.begin(all);
    const double selfStart = cpuOf(::getpid());
    Stream st;
    const bool ok = measure(s, seconds, st);
    const double broker = cpu.used({opt.brokerPid});
    const double workerCpu = cpu.used({worker});
    const double server = cpu.used(opt.otherPids);
    const double shadow = opt.otherPids.empty() ? 0 : cpu.used({opt.otherPids[0]});
    const double busy = cpu.machineBusy();
    const double client = cpuOf(::getpid()) - selfStart;
    if (!ok) {
      std::printf("stream.portal.error=%s\n", s.error.c_str());
      return 1;
    }
    printStream("portal", st);
    std::printf(
        "stream.portal.broker_cpu_s=%.2f broker_cpu_share=%.2f worker_cpu_s=%.2f "
        "worker_cpu_share=%.2f server_side_cpu_s=%.2f shadow_cpu_s=%.2f client_cpu_s=%.2f "
        "machine_busy=%.2f\n",
        broker, broker / st.seconds, workerCpu, workerCpu / st.seconds, server, shadow, client,
        busy);
    std::printf(
        "stream.portal.worker_rss_kib=%ld worker_pss_kib=%ld broker_rss_before_kib=%ld "
        "broker_rss_with_session_kib=%ld broker_rss_growth_kib=%ld\n",
        statusKib(worker, "VmRSS"), pssKib(worker), rssBefore, statusKib(opt.brokerPid, "VmRSS"),
        statusKib(opt.brokerPid, "VmRSS") - rssBefore);
    std::printf("load average: %s\n", loadavg().c_str());
    std::fflush(stdout);
  }
  waitNoWorkers(20s);
  std::printf("stream.broker_rss_after_close_kib=%ld\n", statusKib(opt.brokerPid, "VmRSS"));
  // The worker alone.
  {
    WorkerAlone w;
    w.spawn();
    w.connect();
    std::uint64_t bytes = 0;
    bool key = false;
    if (!w.frame(bytes, key, 30s)) {
      std::printf("stream.worker.error=%s\n", w.error.c_str());
      return 1;
    }
    std::vector<int> all = {w.pid, opt.brokerPid};
    all.insert(all.end(), opt.otherPids.begin(), opt.otherPids.end());
    CpuWindow cpu;
    cpu.begin(all);
    const double selfStart = cpuOf(::getpid());
    Stream st;
    const bool ok = measure(w, seconds, st);
    const double workerCpu = cpu.used({w.pid});
    const double broker = cpu.used({opt.brokerPid});
    const double server = cpu.used(opt.otherPids);
    const double shadow = opt.otherPids.empty() ? 0 : cpu.used({opt.otherPids[0]});
    const double busy = cpu.machineBusy();
    const double client = cpuOf(::getpid()) - selfStart;
    if (!ok) {
      std::printf("stream.worker.error=%s\n", w.error.c_str());
      return 1;
    }
    printStream("worker", st);
    std::printf(
        "stream.worker.worker_cpu_s=%.2f worker_cpu_share=%.2f idle_broker_cpu_s=%.2f "
        "server_side_cpu_s=%.2f shadow_cpu_s=%.2f client_cpu_s=%.2f machine_busy=%.2f\n",
        workerCpu, workerCpu / st.seconds, broker, server, shadow, client, busy);
    std::printf("stream.worker.worker_rss_kib=%ld worker_pss_kib=%ld\n", statusKib(w.pid, "VmRSS"),
                pssKib(w.pid));
    std::printf("load average: %s\n", loadavg().c_str());
  }
  return 0;
}

/// One of many concurrent portal sessions, on its own thread.
struct Concurrent {
  std::thread thread;
  std::atomic<bool> ready{false};
  std::atomic<bool> failed{false};
  std::string error;
  double openMs = 0;
  int pid = -1;  // the worker alone's process
  // Counted only while `measuring`.
  std::atomic<int> frames{0};
  std::atomic<std::uint64_t> bytes{0};
};

struct Gate {
  std::mutex m;
  std::condition_variable cv;
  int free = 4;
  void take() {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return free > 0; });
    --free;
  }
  void give() {
    {
      std::lock_guard lock(m);
      ++free;
    }
    cv.notify_one();
  }
};

/// N sessions at once on one path (portal: true), measured for SECONDS once all are open.
bool manyStep(int seconds, int n, bool portal) {
  const char* par = std::getenv("OPEN_PARALLEL");
  {
    if (!waitNoWorkers(60s)) {
      std::printf("many.error=workers of the previous step still running\n");
      return false;
    }
    std::this_thread::sleep_for(1s);
    const long rssBefore = statusKib(opt.brokerPid, "VmRSS");
    std::atomic<bool> measuring{false};
    std::atomic<bool> stop{false};
    Gate gate;
    gate.free = par ? std::atoi(par) : 4;
    std::vector<std::unique_ptr<Concurrent>> sessions;
    const auto openStart = Clock::now();
    for (int i = 0; i < n; ++i) {
      sessions.push_back(std::make_unique<Concurrent>());
      Concurrent* c = sessions.back().get();
      auto run = [c, &gate, &measuring, &stop](auto& s, auto&& open) {
        gate.take();
        const auto t0 = Clock::now();
        std::uint64_t bytes = 0;
        bool key = false;
        const bool opened = open() && s.frame(bytes, key, 90s);
        gate.give();
        if (!opened) {
          c->error = s.error;
          c->failed = true;
          return;
        }
        c->openMs = ms(Clock::now() - t0);
        c->ready = true;
        while (!stop) {
          std::uint64_t b = 0;
          if (!s.frame(b, key, 15s)) {
            if (!stop) {
              c->error = s.error;
              c->failed = true;
            }
            return;
          }
          if (measuring) {
            ++c->frames;
            c->bytes += b;
          }
        }
      };
      c->thread = std::thread([c, run, portal, i] {
        if (portal) {
          PortalSession s;
          s.vendor = static_cast<std::size_t>(i);
          run(s, [&] { return s.open(); });
        } else {
          WorkerAlone w;
          run(w, [&] {
            // Spawned once this session may open, as the broker spawns one per login.
            try {
              w.spawn();
            } catch (const std::exception& e) {
              w.error = e.what();
              return false;
            }
            c->pid = w.pid;
            w.connect();
            return true;
          });
        }
      });
    }
    // Wait until every session has its first frame (or failed).
    for (;;) {
      int done = 0;
      for (auto& c : sessions) done += (c->ready || c->failed) ? 1 : 0;
      if (done == n) break;
      std::this_thread::sleep_for(50ms);
    }
    const double openAll = secs(Clock::now() - openStart);
    std::this_thread::sleep_for(2s);  // past the opening keyframes
    std::vector<int> workers;
    if (portal) {
      workers = brokerWorkers();
    } else {
      for (auto& c : sessions)
        if (c->pid > 0) workers.push_back(c->pid);
    }
    std::vector<int> all = workers;
    all.push_back(opt.brokerPid);
    all.insert(all.end(), opt.otherPids.begin(), opt.otherPids.end());
    CpuWindow cpu;
    cpu.begin(all);
    const double selfStart = cpuOf(::getpid());
    const long rssOpen = statusKib(opt.brokerPid, "VmRSS");
    long workerRss = 0, workerPss = 0;
    for (int w : workers) {
      workerRss += statusKib(w, "VmRSS");
      workerPss += pssKib(w);
    }
    measuring = true;
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    measuring = false;
    const double window = secs(Clock::now() - t0);
    const double broker = cpu.used({opt.brokerPid});
    const double workerCpu = cpu.used(workers);
    const double server = cpu.used(opt.otherPids);
    const double shadow = opt.otherPids.empty() ? 0 : cpu.used({opt.otherPids[0]});
    const double busy = cpu.machineBusy();
    const double client = cpuOf(::getpid()) - selfStart;
    stop = true;
    std::vector<double> fps, opens;
    int failed = 0;
    std::uint64_t bytes = 0;
    std::string firstError;
    for (auto& c : sessions) {
      if (c->failed && !c->ready) {
        ++failed;
        if (firstError.empty()) firstError = c->error;
        continue;
      }
      if (c->failed && firstError.empty()) firstError = c->error;
      fps.push_back(c->frames / window);
      opens.push_back(c->openMs);
      bytes += c->bytes;
    }
    for (auto& c : sessions) c->thread.join();
    sessions.clear();  // closes the sockets
    std::sort(fps.begin(), fps.end());
    std::printf(
        "many.%s.n=%d opened=%zu failed=%d workers=%zu open_all_s=%.1f open_median_ms=%.0f "
        "fps_median=%.1f fps_min=%.1f fps_max=%.1f fps_total=%.1f mib_per_s_total=%.2f "
        "broker_cpu_s=%.2f workers_cpu_s=%.2f server_side_cpu_s=%.2f shadow_cpu_s=%.2f "
        "client_cpu_s=%.2f window_s=%.1f broker_cores=%.2f workers_cores=%.2f machine_busy=%.2f "
        "broker_rss_before_kib=%ld broker_rss_open_kib=%ld workers_rss_kib=%ld "
        "workers_pss_kib=%ld load=\"%s\"%s%s\n",
        portal ? "portal" : "worker", n, fps.size(), failed, workers.size(), openAll, median(opens),
        median(fps), fps.empty() ? 0.0 : fps.front(), fps.empty() ? 0.0 : fps.back(),
        [&] {
          double t = 0;
          for (double f : fps) t += f;
          return t;
        }(),
        static_cast<double>(bytes) / window / 1048576.0, broker, workerCpu, server, shadow, client,
        window, broker / window, workerCpu / window, busy, rssBefore, rssOpen, workerRss, workerPss,
        loadavg().c_str(), firstError.empty() ? "" : " error=", firstError.c_str());
    std::fflush(stdout);
  }
  return true;
}

int many(int seconds, const std::vector<int>& counts) {
  for (int n : counts) {
    if (!manyStep(seconds, n, true) || !manyStep(seconds, n, false)) return 1;
  }
  return 0;
}

int usage() {
  std::fprintf(
      stderr,
      "usage: bench_rdp_sessions OPTIONS first RUNS | input RUNS | stream SECONDS | many SECONDS "
      "N...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int i = 1;
  try {
    for (; i + 1 < argc && std::strncmp(argv[i], "--", 2) == 0; i += 2) {
      const std::string k = argv[i], v = argv[i + 1];
      if (k == "--portal")
        opt.portal = static_cast<std::uint16_t>(std::stoi(v));
      else if (k == "--cookie") {
        std::istringstream in(v);
        std::string c;
        while (std::getline(in, c, ','))
          if (!c.empty()) opt.cookies.push_back(c);
      } else if (k == "--asset")
        opt.asset = v;
      else if (k == "--worker")
        opt.worker = v;
      else if (k == "--target") {
        opt.host = v.substr(0, v.rfind(':'));
        opt.port = static_cast<std::uint16_t>(std::stoi(v.substr(v.rfind(':') + 1)));
      } else if (k == "--user")
        opt.user = v;
      else if (k == "--password-file") {
        std::ifstream in(v);
        std::getline(in, opt.password);
      } else if (k == "--fingerprint")
        opt.fingerprint = v;
      else if (k == "--desktop") {
        opt.width = std::stoi(v.substr(0, v.find('x')));
        opt.height = std::stoi(v.substr(v.find('x') + 1));
      } else if (k == "--broker-pid")
        opt.brokerPid = std::stoi(v);
      else if (k == "--other-pids") {
        std::istringstream in(v);
        std::string p;
        while (std::getline(in, p, ','))
          if (!p.empty()) opt.otherPids.push_back(std::stoi(p));
      } else
        return usage();
    }
    if (i >= argc || opt.cookies.empty()) return usage();
    const std::string mode = argv[i++];
    std::vector<int> nums;
    for (; i < argc; ++i) nums.push_back(std::stoi(argv[i]));
    if (mode == "first" && nums.size() == 1) return first(nums[0]);
    if (mode == "stream" && nums.size() == 1) return stream(nums[0]);
    if (mode == "input" && nums.size() == 1 && nums[0] > 0) return input(nums[0]);
    if (mode == "many" && nums.size() >= 2)
      return many(nums[0], std::vector<int>(nums.begin() + 1, nums.end()));
    return usage();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_rdp_sessions: %s\n", e.what());
    return 1;
  }
}
