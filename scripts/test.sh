#!/usr/bin/env bash
# Installs what is missing, builds the dev preset (Debug + ASan + UBSan), runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build-web.sh
./scripts/e2e-deps.sh
cmake --preset dev >/dev/null
# 2 cores: one job per core; more only thrashes the memory-hungry Boost headers.
cmake --build --preset dev -j "$(nproc)"
# strict_string_checks is off: libssh 0.10 strndup()s fixed-length buffers, which it flags.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --preset dev -j "$(nproc)" "$@"
