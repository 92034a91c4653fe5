#!/usr/bin/env bash
# What TLS costs, on this host: each round starts a fresh plaintext 3-node cluster, runs
# perf/scenarios/tls-compare.json through node-1 (bench --peer), stops it, then does the same with
# a fresh TLS cluster (cluster.sh up --tls: a new CA and certificates, mutual TLS on every link).
# Prints each step's rate for both (medians of the rounds with min-max) and TLS / plaintext.
#   perf/tls_compare.sh [ROUNDS]         (default 3)
# Environment: SCENARIO (perf/scenarios/tls-compare.json), BASE_PORT (7941),
# DIR (build/bench-tmp/tls): clusters and the --out JSON of every run (plain-R.json, tls-R.json).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
agent="$root/build/p2p-agent"
case "${1:-}" in -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
rounds="${1:-3}"
scenario="${SCENARIO:-$root/perf/scenarios/tls-compare.json}"
base="${BASE_PORT:-7941}"
dir="${DIR:-$root/build/bench-tmp/tls}"
[ -x "$agent" ] || { echo "tls_compare: run scripts/setup.sh first" >&2; exit 2; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "tls_compare: ROUNDS must be a positive number, got '$rounds'" >&2; exit 2; }
mkdir -p "$dir"
trap '"$root/scripts/cluster.sh" down --dir "$dir/cluster" >/dev/null 2>&1 || true' EXIT
for ((r = 1; r <= rounds; r++)); do
  for mode in plain tls; do
    rm -rf "$dir/cluster"
    up=(--nodes 3 --base-port "$base" --dir "$dir/cluster")
    tls=()
    if [ "$mode" = tls ]; then up+=(--tls); tls=(--tls-dir "$dir/cluster/tls"); fi
    echo "tls_compare: round $r of $rounds, $mode" >&2
    "$root/scripts/cluster.sh" up "${up[@]}" >/dev/null
    "$agent" bench --scenario "$scenario" --peer "127.0.0.1:$base" "${tls[@]}" --json --out "$dir/$mode-$r.json" >/dev/null
    "$root/scripts/cluster.sh" down --dir "$dir/cluster" >/dev/null
  done
done
python3 - "$dir" "$rounds" <<'PY'
import json, statistics, sys
where, rounds = sys.argv[1], int(sys.argv[2])
rates, order = {}, []
for mode in ("plain", "tls"):
    for r in range(1, rounds + 1):
        for step in json.load(open(f"{where}/{mode}-{r}.json"))["results"]:
            if step["label"] not in order:
                order.append(step["label"])
            rates.setdefault((step["label"], mode), []).append(step["rate_per_s"])
def cell(xs):
    return f"{statistics.median(xs):,.0f} ({min(xs):,.0f}-{max(xs):,.0f})"
print("| step | plaintext rate/s | TLS rate/s | TLS / plaintext (medians) | per round |")
print("| --- | --- | --- | --- | --- |")
for label in order:
    p, t = rates[(label, "plain")], rates[(label, "tls")]
    rounds_pct = " ".join(f"{100 * b / a:.0f} %" for a, b in zip(p, t))
    print(f"| {label} | {cell(p)} | {cell(t)} | {100 * statistics.median(t) / statistics.median(p):.0f} % | {rounds_pct} |")
PY
