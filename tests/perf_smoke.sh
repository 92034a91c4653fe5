#!/usr/bin/env bash
# A benchmark program run at tiny sizes under CTest, so that none of them rots: passes when the
# program exits 0 and its output has a line matching each PATTERN (extended regular expressions).
#   tests/perf_smoke.sh PATTERN... -- PROGRAM [ARGS...]
set -uo pipefail
patterns=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  patterns+=("$1")
  shift
done
shift || { echo "perf smoke: usage: perf_smoke.sh PATTERN... -- PROGRAM [ARGS...]" >&2; exit 2; }
out="$("$@" 2>&1)"
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ]; then
  echo "perf smoke: '$*' exited $rc" >&2
  exit 1
fi
for p in "${patterns[@]}"; do
  if ! grep -Eq -- "$p" <<<"$out"; then
    echo "perf smoke: the output of '$*' has no line matching '$p'" >&2
    exit 1
  fi
done
