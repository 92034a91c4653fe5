#!/usr/bin/env bash
# Where a step's CPU goes, node by node: starts a fresh 3-node cluster (scripts/cluster.sh),
# runs SCENARIO through node-1 (bench --peer), and prints each step's rate, the raw baseline and
# the CPU of each node per item (utime + stime from /proc/PID/stat, before and after the run;
# the nodes are idle while bench measures its baselines, so those barely count).
#   perf/node_cpu.sh SCENARIO.json [PERF_SECONDS]
# With PERF_SECONDS, `perf record -F 499 -g` of the nodes runs that long, 4 s after the start,
# into DIR/perf.data. Environment: BASE_PORT (7941), DIR (build/bench-tmp/node-cpu), REPLICAS
# (copies of each vector, cluster.sh's default when unset).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
agent="$root/build/p2p-agent"
case "${1:-}" in
  -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
scenario="$1"
perf_s="${2:-}"
base="${BASE_PORT:-7941}"
dir="${DIR:-$root/build/bench-tmp/node-cpu}"
[ -x "$agent" ] || { echo "node_cpu: run scripts/setup.sh first" >&2; exit 2; }
[ -f "$scenario" ] || { echo "node_cpu: no scenario file '$scenario'" >&2; exit 2; }
[ -z "$perf_s" ] || [[ "$perf_s" =~ ^[1-9][0-9]*$ ]] || { echo "node_cpu: PERF_SECONDS must be a positive number, got '$perf_s'" >&2; exit 2; }
rm -rf "$dir"
mkdir -p "$dir"
trap '"$root/scripts/cluster.sh" down --dir "$dir/cluster" >/dev/null 2>&1 || true' EXIT
replicas=()
[ -z "${REPLICAS:-}" ] || replicas=(--replicas "$REPLICAS")
"$root/scripts/cluster.sh" up --nodes 3 --base-port "$base" --dir "$dir/cluster" "${replicas[@]}" >/dev/null
pids=$(for i in 1 2 3; do cat "$dir/cluster/node-$i/node.pid"; done)
ticks() { for p in $pids; do awk '{print $14 + $15}' "/proc/$p/stat"; done | tr '\n' ' '; }
t0=$(ticks)
"$agent" bench --scenario "$scenario" --peer "127.0.0.1:$base" --json --out "$dir/out.json" >/dev/null 2>"$dir/bench.err" &
bench=$!
if [ -n "$perf_s" ]; then
  sleep 4
  perf record -F 499 -g -p "$(echo $pids | tr ' ' ',')" -o "$dir/perf.data" -- sleep "$perf_s" >/dev/null 2>&1 || echo "node_cpu: perf record failed" >&2
fi
wait "$bench" || { echo "node_cpu: bench failed:" >&2; tail -5 "$dir/bench.err" >&2; exit 1; }
t1=$(ticks)
python3 - "$t0" "$t1" "$dir/out.json" "$(getconf CLK_TCK)" <<'PY'
import json, sys
a = [int(x) for x in sys.argv[1].split()]
b = [int(x) for x in sys.argv[2].split()]
hz = int(sys.argv[4])
results = json.load(open(sys.argv[3]))["results"]
items = sum(s["count"] for s in results)
print("| step | rate/s | raw/s | client us/item | node-1, node-2, node-3 us/item (all steps) |")
print("| --- | --- | --- | --- | --- |")
per_node = ", ".join(f"{(y - x) * 1e6 / hz / items:.1f}" for x, y in zip(a, b))
for s in results:
    print(f"| {s['label']} | {s['rate_per_s']:,.0f} | {s.get('baseline', {}).get('rate_per_s', 0):,.0f} | "
          f"{s['resources']['cpu_us_per_item']:.1f} | {per_node} |")
PY
