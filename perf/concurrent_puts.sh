#!/usr/bin/env bash
# Concurrent puts: N `p2p-agent put` clients at once against node-1 of a fresh cluster, next to one
# put alone and to the same N puts one after another (each round on fresh nodes). Every put is ROWS
# x 512 from a file of its own (build/perf/bench_data, seeds 11..10+N). Prints each round's rate
# (rows / wall seconds from the first client's start to the last one's end), the issue's ratio
# "together / one alone", and "together / in sequence" (the same rows and the same work on the node:
# flushes, compactions and graph building grow with what a node holds, so a put of N x ROWS does
# more per row than one of ROWS).
#   perf/concurrent_puts.sh [N] [ROWS] [NODES]        (defaults: 6 50000 1)
# Environment: REPLICAS (copies of each vector with NODES > 1: 1), BASE_PORT (7961), DIR
# (build/bench-tmp/concurrent-puts), P2P_AGENT (the binary for nodes and clients: build/p2p-agent).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
agent="${P2P_AGENT:-$root/build/p2p-agent}"
gen="$root/build/perf/bench_data"
case "${1:-}" in -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
n="${1:-6}" rows="${2:-50000}" nodes="${3:-1}"
port="${BASE_PORT:-7961}" dir="${DIR:-$root/build/bench-tmp/concurrent-puts}" replicas="${REPLICAS:-1}"
[ -x "$agent" ] && [ -x "$gen" ] || { echo "concurrent_puts: run scripts/setup.sh first" >&2; exit 2; }
for v in "$n" "$rows" "$nodes" "$replicas"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "concurrent_puts: N, ROWS, NODES and REPLICAS are positive numbers, got '$v'" >&2; exit 2; }
done
mkdir -p "$dir"
for i in $(seq 1 "$n"); do
  f="$dir/v$i-$rows.fvecs"
  [ -f "$f" ] || "$gen" "$f" "$rows" $((10 + i)) > /dev/null
done
cluster() { P2P_AGENT="$agent" "$root/scripts/cluster.sh" "$@" --dir "$dir/cluster" > /dev/null; }
trap 'cluster down 2>/dev/null || true' EXIT
now() { date +%s%N; }

# round NAME MODE COUNT: MODE together|sequence; prints "NAME: rows/s" and keeps the rate in $rate
round() {
  local name=$1 mode=$2 count=$3 start end pids=() i busy=0 b
  rm -rf "$dir/cluster"
  cluster up --topology star --nodes "$nodes" --replicas "$replicas" --base-port "$port"
  start=$(now)
  for i in $(seq 1 "$count"); do
    if [ "$mode" = together ]; then
      "$agent" put --peer "127.0.0.1:$port" --input "$dir/v$i-$rows.fvecs" > "$dir/put$i.out" 2> "$dir/put$i.err" &
      pids+=($!)
    else
      "$agent" put --peer "127.0.0.1:$port" --input "$dir/v$i-$rows.fvecs" > "$dir/put$i.out" 2> "$dir/put$i.err" \
        || { echo "concurrent_puts: put $i failed: $(tail -2 "$dir/put$i.err")" >&2; exit 1; }
    fi
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { echo "concurrent_puts: put $((i + 1)) failed: $(tail -2 "$dir/put$((i + 1)).err")" >&2; exit 1; }
  done
  end=$(now)
  for i in $(seq 1 "$count"); do
    b=$(sed -n 's/.*answered busy \([0-9]*\).*/\1/p' "$dir/put$i.err" | tail -1)
    busy=$((busy + ${b:-0}))
  done
  rate=$(awk -v r=$((count * rows)) -v s=$(( end - start )) 'BEGIN {printf "%.0f", r / (s / 1e9)}')
  printf '%-26s %9s rows/s  (%d x %d rows in %.2f s, %d busy answers)\n' "$name:" "$rate" "$count" "$rows" \
    "$(awk -v s=$(( end - start )) 'BEGIN {print s / 1e9}')" "$busy"
  cluster down
}

echo "concurrent_puts: $n puts of $rows x 512 to node-1 of $nodes node(s) (star, $replicas copies)"
round "one alone" sequence 1; alone=$rate
round "$n at once" together "$n"; together=$rate
round "$n one after another" sequence "$n"; sequence=$rate
awk -v t="$together" -v a="$alone" -v s="$sequence" \
  'BEGIN {printf "together / one alone: %.2f; together / one after another: %.2f\n", t / a, t / s}'
