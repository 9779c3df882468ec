// Modbus/TCP round trips (issue 8, "Performance"): one libmodbus client connection to HOST:PORT
// doing read-holding-registers requests back to back, each waiting for its response, as a
// vendor's poller does. Prints requests per second and the per-request round trip (p50, p99,
// max, in microseconds, steady_clock around each modbus_read_registers call).
//
// bench/modbus_tunnel.sh runs it against a conduit-demo-plc directly, through an OpenSSH
// `ssh -L` tunnel and through Conduit's gateway, in one run.
//
// Usage: bench_modbus_rtt HOST PORT [REQUESTS (default 20000)] [REGISTERS (default 10)]
//                         [WARM-UP REQUESTS (default 200)]
// Every response is checked against the demo PLC's values (holding register i = 1000 + i), so
// a path that answered wrongly (or with an exception) fails the run instead of looking fast.
// Exit status: 0 done, 1 a request failed, 2 usage.
#include <modbus/modbus.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

bool parseCount(const char* text, long min, long max, long& out) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > max) return false;
  out = v;
  return true;
}

/// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  const auto n = sorted.size();
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(n) + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, n);
  return sorted[rank - 1];
}

/// One request; false (with a message on stderr) if it failed or answered wrong values.
bool readOnce(modbus_t* ctx, int registers, std::vector<std::uint16_t>& values) {
  const int got = modbus_read_registers(ctx, 0, registers, values.data());
  if (got != registers) {
    std::fprintf(stderr, "bench_modbus_rtt: read failed: %s\n", modbus_strerror(errno));
    return false;
  }
  for (int i = 0; i < registers; ++i) {
    if (values[static_cast<std::size_t>(i)] != 1000 + i) {
      std::fprintf(stderr, "bench_modbus_rtt: register %d is %u, expected %d\n", i,
                   static_cast<unsigned>(values[static_cast<std::size_t>(i)]), 1000 + i);
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  long port = 0;
  long requests = 20000;
  long registers = 10;
  long warmup = 200;
  // 125: the most registers one read may ask for (Modbus application protocol, function 03).
  if (argc < 3 || argc > 6 || !parseCount(argv[2], 1, 65535, port) ||
      (argc > 3 && !parseCount(argv[3], 1, 100000000, requests)) ||
      (argc > 4 && !parseCount(argv[4], 1, 125, registers)) ||
      (argc > 5 && !parseCount(argv[5], 0, 1000000, warmup))) {
    std::fprintf(stderr,
                 "usage: bench_modbus_rtt HOST PORT [REQUESTS] [REGISTERS 1-125] [WARM-UP]\n");
    return 2;
  }
  modbus_t* ctx = modbus_new_tcp(argv[1], static_cast<int>(port));
  if (ctx == nullptr) {
    std::fprintf(stderr, "bench_modbus_rtt: cannot create a libmodbus context\n");
    return 2;
  }
  // 10 s per response: far above any healthy round trip here, so a stalled path fails the run
  // instead of hanging it, while a slow first request (a tunnel opening) still passes.
  modbus_set_response_timeout(ctx, 10, 0);
  // Unit 1: what mbpoll sends by default and what the benchmark's policy allows.
  modbus_set_slave(ctx, 1);
  if (modbus_connect(ctx) != 0) {
    std::fprintf(stderr, "bench_modbus_rtt: cannot connect to %s:%ld: %s\n", argv[1], port,
                 modbus_strerror(errno));
    modbus_free(ctx);
    return 1;
  }
  const int count = static_cast<int>(registers);
  std::vector<std::uint16_t> values(static_cast<std::size_t>(count));
  // Warm-up: the first requests through a tunnel include opening its channel and the target
  // connection, and page-faulting the code paths; they are not the steady state.
  for (long i = 0; i < warmup; ++i) {
    if (!readOnce(ctx, count, values)) return 1;
  }
  std::vector<double> rtt;
  rtt.reserve(static_cast<std::size_t>(requests));
  const auto start = Clock::now();
  for (long i = 0; i < requests; ++i) {
    const auto t0 = Clock::now();
    if (!readOnce(ctx, count, values)) return 1;
    const auto t1 = Clock::now();
    rtt.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  modbus_close(ctx);
  modbus_free(ctx);

  std::sort(rtt.begin(), rtt.end());
  // Over 10 ms: a round trip that waited for a timer (a poll timeout, a delayed ACK) rather
  // than for work; a healthy one here takes well under a millisecond.
  const auto stalled = rtt.end() - std::upper_bound(rtt.begin(), rtt.end(), 10000.0);
  std::printf(
      "requests=%ld registers=%ld seconds=%.3f requests_per_s=%.0f p50_us=%.1f p99_us=%.1f "
      "max_us=%.1f over_10ms=%ld\n",
      requests, registers, seconds, static_cast<double>(requests) / seconds, percentile(rtt, 50),
      percentile(rtt, 99), rtt.back(), static_cast<long>(stalled));
  return 0;
}
