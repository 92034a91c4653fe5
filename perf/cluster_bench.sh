#!/usr/bin/env bash
# Distributed vector_store and vector_search with 1, 2 and 3 nodes on this host: a cluster per
# node count (scripts/cluster.sh), 20,000 x 512-d vectors put through node-1, 1,000 queries
# searched through node-1 (once every node has built its graphs), all from the CLI.
#   perf/cluster_bench.sh [MAX_NODES]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
agent="$root/build/p2p-agent"
max="${1:-3}"
dir="$root/build/bench-tmp/cluster"
base=7701
[ -x "$root/build/perf/bench_data" ] || { echo "cluster_bench: run scripts/setup.sh first" >&2; exit 2; }
mkdir -p "$dir"
# The data: the same generator as the tests and vector_bench (embedding-like, seeds 1 and 2).
if [ ! -f "$dir/base.fvecs" ]; then
  "$root/build/perf/bench_data" "$dir/base.fvecs" 20000 1
  "$root/build/perf/bench_data" "$dir/queries.fvecs" 1000 2
fi
printf '| %-5s | %-22s | %-24s |\n' nodes "store via node-1 (vec/s)" "search via node-1 (q/s)"
printf '|-------|------------------------|--------------------------|\n'
for ((n = 1; n <= max; n++)); do
  rm -rf "$dir/c$n"
  "$root/scripts/cluster.sh" up --topology star --nodes "$n" --base-port "$base" --dir "$dir/c$n" >/dev/null
  store=$("$agent" put --peer "127.0.0.1:$base" --input "$dir/base.fvecs" --json | sed 's/.*"rate_per_s": \([0-9.]*\).*/\1/')
  for ((i = 0; i < n; i++)); do # wait until every node's vectors are in its graphs
    until "$agent" status --peer "127.0.0.1:$((base + i))" --json | grep -q '"pending": 0'; do sleep 0.2; done
  done
  start=$(date +%s.%N)
  "$agent" search --peer "127.0.0.1:$base" --input "$dir/queries.fvecs" --json > /dev/null
  end=$(date +%s.%N)
  search=$(awk -v s="$start" -v e="$end" 'BEGIN { print 1000 / (e - s) }')
  printf '| %-5s | %22.0f | %24.0f |\n' "$n" "$store" "$search"
  "$root/scripts/cluster.sh" down --dir "$dir/c$n" >/dev/null
done
