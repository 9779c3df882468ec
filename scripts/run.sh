#!/usr/bin/env bash
# Installs what is missing, builds the release preset (conduit and conduit-demo-plc among the
# rest), starts the demo targets and the demo (Ctrl+C stops the broker; the demo sshd on
# 127.0.0.1:2201, the demo PLC on 127.0.0.1:1502, the RDP workstation on 127.0.0.1:13389 and the
# Linux panel on 127.0.0.1:13390 stop with it).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build-web.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
conduit=./build/release/broker/app/conduit
"$conduit" init --data-dir ./var/demo >/dev/null
# The demo's targets end with the demo (Ctrl+C), not left running in the background.
trap './scripts/demo-targets.sh --stop ./var/demo' EXIT
./scripts/demo-targets.sh ./var/demo "$conduit" ./build/release/tools/demo_plc/conduit-demo-plc
"$conduit" demo --data-dir ./var/demo "$@"
