#!/usr/bin/env bash
# Builds the portal's browser front end (portal/web -> portal/web/dist), only when something changed.
set -euo pipefail
cd "$(dirname "$0")/../portal/web"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-web: $tool not found; install Node.js 20.19+ (with npm) to build portal/web" >&2
    exit 1
  fi
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() {
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "build-web: '$*' failed" >&2
    exit 1
  fi
}

# Dependencies: reinstall exactly from the lock file when it changed since the last install.
if [[ ! -d node_modules || ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  run npm ci --no-audit --no-fund
fi

# Build when dist is missing or any source (anything but node_modules and dist) is newer.
if [[ ! -f dist/index.html ]] || [[ -n "$(find . \( -path ./node_modules -o -path ./dist \) -prune -o -type f -newer dist/index.html -print -quit)" ]]; then
  run npx --no-install vite build
  echo "build-web: built portal/web/dist"
else
  echo "build-web: portal/web/dist is up to date"
fi
