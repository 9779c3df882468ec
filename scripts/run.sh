#!/usr/bin/env bash
# Installs what is missing, builds the release preset and starts the demo (Ctrl+C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
exec ./build/release/broker/app/conduit demo --data-dir ./var/demo "$@"
