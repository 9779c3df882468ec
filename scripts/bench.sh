#!/usr/bin/env bash
# Builds the release preset with benchmarks and runs them. Figures go into docs/benchmarks.md
# by hand, with this command and the date.
#
#   scripts/bench.sh [N]                      credentials: N mints and checkouts (default 2000)
#   scripts/bench.sh recorder [MiB] [REPS]    recorder: MiB per throughput run (default 1024),
#                                             repetitions of every figure (default 3)
#   scripts/bench.sh modbus [REQUESTS] [RUNS] Modbus round trips direct, through OpenSSH ssh -L
#                                             and through Conduit (bench/modbus_tunnel.sh)
#   scripts/bench.sh ssh [SESSIONS] [SETUP_RUNS] [ECHO_SAMPLES] [HOLD_S]
#                                             SSH gateway against OpenSSH ProxyJump: bulk
#                                             transfer, login time, many held sessions,
#                                             keystroke echo (bench/ssh_gateway.sh)
#   scripts/bench.sh rdp                      browser RDP through the portal against the RDP
#                                             worker alone: first frame, frame rate of a
#                                             scrolling screen, many sessions (bench/rdp.sh;
#                                             settings in its environment)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "modbus" ]; then
  shift
  exec bench/modbus_tunnel.sh "$@"
fi
if [ "${1:-}" = "ssh" ]; then
  shift
  exec bench/ssh_gateway.sh "$@"
fi
if [ "${1:-}" = "rdp" ]; then
  shift
  exec bench/rdp.sh "$@"
fi
./scripts/deps.sh
cmake --preset release -DCONDUIT_BUILD_BENCH=ON >/dev/null
if [ "${1:-}" = "recorder" ]; then
  shift
  cmake --build --preset release -j "$(nproc)" --target bench_recorder
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  ./build/release/bench/bench_recorder "${1:-1024}" "${2:-3}"
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
else
  cmake --build --preset release -j "$(nproc)" --target bench_credentials
  ./build/release/bench/bench_credentials "${1:-2000}"
fi
