#!/usr/bin/env bash
# Catch-up speed of a returning replica on this host: a 3-node loopback cluster with 2 copies of
# every vector, ROWS x 512-d vectors put through node-1; node-2 is SIGKILLed, ROWS more are put
# while it is down, and node-2 is restarted (a) with its data, to catch up on what it missed,
# then (b) with its data dir removed, to be refilled. Prints the rows each pulled and how fast,
# from its "caught up: pulled N rows and tombstones from P peers in T ms" log line.
#   perf/catchup_bench.sh
# Environment: ROWS (20000), BASE_PORT (7721), DIR (build/bench-tmp/catchup).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
agent="$root/build/p2p-agent"
rows="${ROWS:-20000}"
dir="${DIR:-$root/build/bench-tmp/catchup}"
base="${BASE_PORT:-7721}"
[ -x "$root/build/perf/bench_data" ] || { echo "catchup_bench: run scripts/setup.sh first" >&2; exit 2; }
mkdir -p "$dir"
first="$dir/first-$rows.fvecs" second="$dir/second-$rows.fvecs"
[ -f "$first" ] || "$root/build/perf/bench_data" "$first" "$rows" 1
[ -f "$second" ] || "$root/build/perf/bench_data" "$second" "$rows" 3
c="$dir/c"
rm -rf "$c"
trap '"$root/scripts/cluster.sh" down --dir "$c" >/dev/null 2>&1 || true' EXIT
"$root/scripts/cluster.sh" up --topology star --nodes 3 --replicas 2 --base-port "$base" --dir "$c" >/dev/null
rate() { sed 's/.*"rate_per_s": \([0-9.]*\).*/\1/'; }
all_up=$("$agent" put --peer "127.0.0.1:$base" --input "$first" --json | rate)

restart_node2() { # waits (up to 5 minutes) for its catch-up line; prints "rows ms"
  : > "$c/node-2/node.log"
  "$agent" node --config "$c/node-2/config.json" >> "$c/node-2/node.log" 2>&1 &
  echo $! > "$c/node-2/node.pid"
  local tries=0
  until grep -q 'caught up with' "$c/node-2/node.log"; do
    ((++tries < 1500)) || { echo "catchup_bench: node-2 did not catch up" >&2; exit 1; }
    sleep 0.2
  done
  grep 'caught up: pulled' "$c/node-2/node.log" \
    | sed 's/.*pulled \([0-9]*\) rows.* in \([0-9]*\) ms.*/\1 \2/' | awk '{ r += $1; t += $2 } END { print r + 0, t + 0 }'
}

kill -9 "$(cat "$c/node-2/node.pid")"
sleep 4 # past failure_timeout_ms (3 s in the templates): node-2 is down for the others
one_down=$("$agent" put --peer "127.0.0.1:$base" --input "$second" --first-id "$rows" --json | rate)
read -r missed missed_ms < <(restart_node2)
kill -9 "$(cat "$c/node-2/node.pid")"
sleep 4
rm -rf "$c/node-2/data"
read -r refilled refilled_ms < <(restart_node2)

printf '| %-46s | %10s | %10s |\n' "measure" "rows" "rows/s"
printf '|------------------------------------------------|------------|------------|\n'
printf '| %-46s | %10s | %10.0f |\n' "put via node-1, 3 nodes up" "$rows" "$all_up"
printf '| %-46s | %10s | %10.0f |\n' "put via node-1, node-2 down" "$rows" "$one_down"
printf '| %-46s | %10s | %10.0f |\n' "catch-up of node-2 (missed writes, ${missed_ms} ms)" "$missed" \
  "$(awk -v r="$missed" -v t="$missed_ms" 'BEGIN { print (t > 0 ? r * 1000 / t : 0) }')"
printf '| %-46s | %10s | %10.0f |\n' "refill of node-2 (empty data dir, ${refilled_ms} ms)" "$refilled" \
  "$(awk -v r="$refilled" -v t="$refilled_ms" 'BEGIN { print (t > 0 ? r * 1000 / t : 0) }')"
