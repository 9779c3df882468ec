#!/usr/bin/env bash
# Installs the Node packages the tests drive, exactly from their lock files and only when a
# node_modules is missing or older than its lock:
#   tests/e2e      playwright-core, which drives Debian's /usr/bin/chromium (no browser is
#                  downloaded);
#   tests/s7peers  node-snap7 (Snap7's S7Server as a PLC and its S7Client; a native addon:
#                  its install script takes a prebuilt binary where GitHub is reachable, else
#                  builds it with node-gyp, which needs g++, make and python3) and nodes7: the
#                  real S7comm peers of tests/ssh/integration/s7_peers_test.cpp.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "e2e-deps: $tool not found; install Node.js 20+ (with npm) for tests/e2e and tests/s7peers" >&2
    exit 1
  fi
done

for dir in tests/e2e tests/s7peers; do
  if [[ ! -d $dir/node_modules || ! -f $dir/node_modules/.package-lock.json ||
    $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
    log=$(mktemp)
    # No browser download: playwright-core never fetches one, and the test uses Debian's
    # Chromium. node-snap7's build script runs because its package.json allows it
    # ("allowScripts"); no other package's does.
    if ! (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund) >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      echo "e2e-deps: 'npm ci' in $dir failed" >&2
      exit 1
    fi
    rm -f "$log"
    echo "e2e-deps: installed $dir/node_modules"
  else
    echo "e2e-deps: $dir/node_modules is up to date"
  fi
done
