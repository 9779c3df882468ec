#!/usr/bin/env bash
# Fails if any project C++ file differs from what clang-format (.clang-format) would write.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
  '*.cpp' '*.hpp' '*.h' | grep -v '^build/' || true)
[ ${#files[@]} -gt 0 ] || { echo "no files to check"; exit 0; }
bad=0
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "needs clang-format: $f"
    bad=1
  fi
done
[ $bad -eq 0 ] && echo "format ok: ${#files[@]} files"
exit $bad
