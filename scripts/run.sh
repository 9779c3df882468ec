#!/usr/bin/env bash
# Installs what is missing, builds the release preset, starts the demo target and the demo
# (Ctrl+C stops the broker; the demo sshd keeps running on 127.0.0.1:2201).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build-web.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
conduit=./build/release/broker/app/conduit
"$conduit" init --data-dir ./var/demo >/dev/null
./scripts/demo-targets.sh ./var/demo "$conduit"
exec "$conduit" demo --data-dir ./var/demo "$@"
