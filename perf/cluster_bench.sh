#!/usr/bin/env bash
# Distributed vector_store and vector_search with 1, 2 and 3 nodes on this host: a cluster per
# node count (scripts/cluster.sh), 20,000 x 512-d vectors put through node-1, 1,000 queries
# searched through node-1 (once every node has built its graphs), all from the CLI.
#   perf/cluster_bench.sh [MAX_NODES]
# Environment: ROWS (20000), QUERIES (1000), BASE_PORT (7701), DIR (build/bench-tmp/cluster).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
agent="$root/build/p2p-agent"
max="${1:-3}"
rows="${ROWS:-20000}"
queries="${QUERIES:-1000}"
dir="${DIR:-$root/build/bench-tmp/cluster}"
base="${BASE_PORT:-7701}"
[ -x "$root/build/perf/bench_data" ] || { echo "cluster_bench: run scripts/setup.sh first" >&2; exit 2; }
mkdir -p "$dir"
# The data: the same generator as the tests and vector_bench (embedding-like, seeds 1 and 2).
data="$dir/base-$rows.fvecs" query_file="$dir/queries-$queries.fvecs"
[ -f "$data" ] || "$root/build/perf/bench_data" "$data" "$rows" 1
[ -f "$query_file" ] || "$root/build/perf/bench_data" "$query_file" "$queries" 2
printf '| %-5s | %-22s | %-24s |\n' nodes "store via node-1 (vec/s)" "search via node-1 (q/s)"
printf '|-------|------------------------|--------------------------|\n'
for ((n = 1; n <= max; n++)); do
  rm -rf "$dir/c$n"
  trap '"$root/scripts/cluster.sh" down --dir "$dir/c$n" >/dev/null 2>&1 || true' EXIT
  "$root/scripts/cluster.sh" up --topology star --nodes "$n" --base-port "$base" --dir "$dir/c$n" >/dev/null
  store=$("$agent" put --peer "127.0.0.1:$base" --input "$data" --json | sed 's/.*"rate_per_s": \([0-9.]*\).*/\1/')
  for ((i = 0; i < n; i++)); do # wait (up to 10 minutes) until every node's vectors are in its graphs
    tries=0
    until "$agent" status --peer "127.0.0.1:$((base + i))" --json | grep -q '"pending": 0'; do
      ((++tries < 3000)) || { echo "cluster_bench: node-$((i + 1)) still has vectors waiting for its graph" >&2; exit 1; }
      sleep 0.2
    done
  done
  start=$(date +%s.%N)
  "$agent" search --peer "127.0.0.1:$base" --input "$query_file" --json > /dev/null
  end=$(date +%s.%N)
  search=$(awk -v q="$queries" -v s="$start" -v e="$end" 'BEGIN { print q / (e - s) }')
  printf '| %-5s | %22.0f | %24.0f |\n' "$n" "$store" "$search"
  "$root/scripts/cluster.sh" down --dir "$dir/c$n" >/dev/null
  trap - EXIT
done
