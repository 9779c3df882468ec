#!/usr/bin/env bash
# Installs the end-to-end test's Node dependencies (tests/e2e: playwright-core, which drives
# Debian's /usr/bin/chromium; no browser is downloaded), exactly from the lock file and only when
# node_modules is missing or older than the lock.
set -euo pipefail
cd "$(dirname "$0")/../tests/e2e"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "e2e-deps: $tool not found; install Node.js 20+ (with npm) for tests/e2e" >&2
    exit 1
  fi
done

if [[ ! -d node_modules || ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  # No browser download: playwright-core never fetches one, and the test uses Debian's Chromium.
  if ! PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >"$log" 2>&1; then
    cat "$log" >&2
    echo "e2e-deps: 'npm ci' in tests/e2e failed" >&2
    exit 1
  fi
  echo "e2e-deps: installed tests/e2e/node_modules"
else
  echo "e2e-deps: tests/e2e/node_modules is up to date"
fi
