#!/usr/bin/env bash
# Builds the release preset with benchmarks and runs them. Figures go into docs/benchmarks.md
# by hand, with this command and the date.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake --preset release -DCONDUIT_BUILD_BENCH=ON >/dev/null
cmake --build --preset release -j "$(nproc)" --target bench_credentials
./build/release/bench/bench_credentials "${1:-2000}"
