#!/usr/bin/env bash
# Control requests under a flood: one fresh node, `put` of ROWS x 512 with WINDOW batches of 1,000
# in flight (100000: a client that never waits; 4: the CLI's default), and a probe every 100 ms
# while it runs: `status` (a whole CLI process: start, connect, answer), `connection` (one `status
# --watch 0.1` over one connection for the whole put: the node's answer alone) or `curl /metrics`.
# Prints the put's rate, the node's peak RSS and the probes' p50, p99 and max in seconds.
# DIR/probes keeps each probe: seconds taken and when it started (Unix time), to set beside the
# node's log and RocksDB's LOG.
#   perf/control_flood.sh [WINDOW] [status|connection|metrics] [ROWS]      (defaults: 100000 status 300000)
# Environment: STATUS_ARGS (extra status options, e.g. "--json" or "--deadline-ms 0"), WINDOW_MB
# (put --window-mb: 0, no bound in bytes, unless set),
# PORT (7951; /metrics on PORT+1), DIR (build/bench-tmp/control-flood), P2P_AGENT (the binary for
# node, put and probes: build/p2p-agent; another build's for an A/B).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
agent="${P2P_AGENT:-$root/build/p2p-agent}"
case "${1:-}" in -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
window="${1:-100000}" probe="${2:-status}" rows="${3:-300000}"
port="${PORT:-7951}" dir="${DIR:-$root/build/bench-tmp/control-flood}"
[ -x "$agent" ] || { echo "control_flood: run scripts/setup.sh first" >&2; exit 2; }
[[ "$window" =~ ^[1-9][0-9]*$ ]] || { echo "control_flood: WINDOW must be a positive number, got '$window'" >&2; exit 2; }
[[ "$rows" =~ ^[1-9][0-9]*$ ]] || { echo "control_flood: ROWS must be a positive number, got '$rows'" >&2; exit 2; }
case "$probe" in status|connection|metrics) ;; *) echo "control_flood: the probe is status, connection or metrics, got '$probe'" >&2; exit 2 ;; esac
mkdir -p "$dir"
if [ ! -f "$dir/sample-$rows/vectors.fvecs" ]; then
  "$agent" sample --out "$dir/sample-$rows" --rows "$rows" --queries 1 --documents 1 >/dev/null
fi
rm -rf "$dir/data"
echo "{\"node\": {\"data_dir\": \"$dir/data\", \"port\": $port}, \"http\": {\"port\": $((port + 1))}}" > "$dir/config.json"
"$agent" node --config "$dir/config.json" > "$dir/node.log" 2>&1 &
node=$!
trap 'kill $node 2>/dev/null || true; wait $node 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do "$agent" status --peer "127.0.0.1:$port" >/dev/null 2>&1 && break; sleep 0.1; done
peak=0
"$agent" put --peer "127.0.0.1:$port" --input "$dir/sample-$rows/vectors.fvecs" --window "$window" --window-mb "${WINDOW_MB:-0}" > "$dir/put.out" 2> "$dir/put.err" &
put=$!
: > "$dir/probes"
watch=""
if [ "$probe" = connection ]; then
  # shellcheck disable=SC2086
  "$agent" status --peer "127.0.0.1:$port" --watch 0.1 ${STATUS_ARGS:-} > "$dir/watch.out" 2> "$dir/watch.err" &
  watch=$!
fi
while kill -0 "$put" 2>/dev/null; do
  rss=$(awk '/VmHWM/{print $2}' "/proc/$node/status" 2>/dev/null || echo 0)
  [ "${rss:-0}" -gt "$peak" ] && peak=$rss
  if [ -n "$watch" ]; then
    sleep 0.1
    continue
  fi
  start=$(date +%s%N)
  if [ "$probe" = status ]; then
    # shellcheck disable=SC2086
    timeout 30 "$agent" status --peer "127.0.0.1:$port" ${STATUS_ARGS:-} > /dev/null 2>&1 || echo "control_flood: a status probe failed" >&2
  else
    curl -s -m 30 -o /dev/null "http://127.0.0.1:$((port + 1))/metrics" || echo "control_flood: a /metrics probe failed" >&2
  fi
  echo "$(( $(date +%s%N) - start ))" | awk -v t="$start" "{printf \"%.6f %.3f\\n\", \$1 / 1e9, t / 1e9}" >> "$dir/probes"
  sleep 0.1
done
if [ -n "$watch" ]; then
  kill -TERM "$watch" 2>/dev/null || true # the watch ends after the answer it waits for
  wait "$watch" || echo "control_flood: the status watch failed: $(tail -1 "$dir/watch.err")" >&2
  sed -n 's/^--- .*, answered in \([0-9.]*\) ms$/\1/p' "$dir/watch.out" | awk '{printf "%.6f\n", $1 / 1000}' > "$dir/probes"
fi
wait "$put" || { echo "control_flood: put failed: $(tail -2 "$dir/put.err")" >&2; exit 1; }
echo "put: $(cat "$dir/put.out")"
echo "node peak RSS: $((peak / 1024)) MB"
cut -d" " -f1 "$dir/probes" | sort -n | awk -v p="$probe" '{a[NR]=$1} END {printf "%s probes: %d, p50 %.3f s, p99 %.3f s, max %.3f s\n", p, NR, a[int(NR*0.5)+1], a[int(NR*0.99)+1], a[NR]}'
