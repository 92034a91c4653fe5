#!/usr/bin/env bash
# How long one node takes to build its HNSW graphs after a put: starts a node (4 shards, 2
# scheduler threads, vectors.index_threads as given), puts ROWS x 512-d vectors made by
# build/perf/bench_data through it (`put --peer`), then asks `status --json` every 0.2 s until no
# vector waits for a graph. Prints the put's rate, the seconds from the put's end until the
# graphs were built, and the node's CPU seconds (utime + stime from /proc/PID/stat).
#   perf/graph_build.sh [ROWS] [INDEX_THREADS]     (defaults: 100000, and 0: the node's default)
# Environment: PORT (7951), DIR (build/bench-tmp/graph-build; the vectors file is kept there).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
agent="$root/build/p2p-agent"
case "${1:-}" in -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
rows="${1:-100000}"
threads="${2:-0}"
port="${PORT:-7951}"
dir="${DIR:-$root/build/bench-tmp/graph-build}"
[[ "$rows" =~ ^[1-9][0-9]*$ ]] || { echo "graph_build: ROWS must be a positive integer, got '$rows'" >&2; exit 2; }
[[ "$threads" =~ ^[0-9]+$ ]] || { echo "graph_build: INDEX_THREADS must be 0 or more, got '$threads'" >&2; exit 2; }
[ -x "$agent" ] && [ -x "$root/build/perf/bench_data" ] || { echo "graph_build: run scripts/setup.sh first" >&2; exit 2; }
mkdir -p "$dir"
vectors="$dir/vectors-$rows.fvecs"
[ -f "$vectors" ] || "$root/build/perf/bench_data" "$vectors" "$rows" 42
rm -rf "$dir/data"
cat > "$dir/config.json" <<JSON
{"node": {"id": "node-1", "host": "127.0.0.1", "port": $port, "data_dir": "$dir/data"},
 "runtime": {"scheduler_threads": 2, "workers": 2},
 "vectors": {"dim": 512, "shards": 4, "index_threads": $threads}}
JSON
"$agent" node --config "$dir/config.json" > "$dir/node.log" 2>&1 &
node_pid=$!
trap 'kill "$node_pid" 2>/dev/null; wait "$node_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do "$agent" status --peer "127.0.0.1:$port" > /dev/null 2>&1 && break; sleep 0.1; done
"$agent" put --peer "127.0.0.1:$port" --input "$vectors"
put_end=$(date +%s.%N)
pending=1
for _ in $(seq 36000); do # at most 2 hours
  pending=$("$agent" status --peer "127.0.0.1:$port" --json | grep -o '"pending": *[0-9]*' | awk -F: '{n += $2} END {print n + 0}')
  [ "$pending" = 0 ] && break
  sleep 0.2
done
built=$(date +%s.%N)
[ "$pending" = 0 ] || { echo "graph_build: $pending vectors still pending after 2 hours" >&2; exit 1; }
cpu=$(awk '{printf "%.1f", ($14 + $15) / 100}' "/proc/$node_pid/stat")
echo "vectors.index_threads $threads: graphs built $(awk -v a="$put_end" -v b="$built" 'BEGIN {printf "%.1f", b - a}') s after the put; node CPU $cpu s"
