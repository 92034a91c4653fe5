#!/usr/bin/env bash
# A client that never waits, against a cluster: a fresh NODES-node star (scripts/cluster.sh), a
# `put` of ROWS x 512 through node-1 with WINDOW batches of 1,000 in flight, and a probe of node
# PROBE every 100 ms while it runs. Prints the put's outcome, the probes' p50, p99 and max in
# seconds, and every "peer ... is down" the nodes logged during the put (a node whose I/O thread is
# held past cluster.failure_timeout_ms is dropped by its peers and by its clients).
#   perf/cluster_flood.sh [WINDOW] [ROWS] [NODES] [PROBE]      (defaults: 100000 300000 3 2)
# Environment: PROBE_KIND: process (default: a whole `status` process each time: start, connect,
# answer), connection (one `status --watch 0.1` over one connection: the node's answer alone) or
# metrics (`curl /metrics`, also timed by curl itself; the nodes get --metrics-port
# BASE_PORT+100+i). BASE_PORT (27600), DIR
# (build/bench-tmp/cluster-flood), P2P_AGENT (the binary: build/p2p-agent; another build's for an
# A/B), TLS=1 (every link TLS: cluster.sh up --tls), STATUS_ARGS (extra status options, e.g.
# "--deadline-ms 100"), WINDOW_MB (put --window-mb: 0, no bound in bytes, unless set; such a client
# can stall itself copying its queue, perf/README.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
agent="${P2P_AGENT:-$root/build/p2p-agent}"
case "${1:-}" in -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
window="${1:-100000}" rows="${2:-300000}" nodes="${3:-3}" probe="${4:-2}"
base="${BASE_PORT:-27600}" dir="${DIR:-$root/build/bench-tmp/cluster-flood}"
[ -x "$agent" ] || { echo "cluster_flood: run scripts/setup.sh first" >&2; exit 2; }
for v in "$window" "$rows" "$nodes" "$probe"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "cluster_flood: WINDOW, ROWS, NODES and PROBE are positive numbers, got '$v'" >&2; exit 2; }
done
[ "$probe" -le "$nodes" ] || { echo "cluster_flood: PROBE $probe is not one of the $nodes nodes" >&2; exit 2; }
kind="${PROBE_KIND:-process}"
case "$kind" in process|connection|metrics) ;; *) echo "cluster_flood: PROBE_KIND is process, connection or metrics, got '$kind'" >&2; exit 2 ;; esac
mkdir -p "$dir"
if [ ! -f "$dir/sample-$rows/vectors.fvecs" ]; then
  "$agent" sample --out "$dir/sample-$rows" --rows "$rows" --queries 1 --documents 1 >/dev/null
fi
rm -rf "$dir/c"
down() { P2P_AGENT="$agent" "$root/scripts/cluster.sh" down --dir "$dir/c" >/dev/null 2>&1 || true; }
trap down EXIT
tls=() up_tls=()
[ "${TLS:-0}" = 1 ] && tls=(--tls-dir "$dir/c/tls") up_tls=(--tls)
metrics_port=$((base + 100))
up_metrics=()
[ "$kind" = metrics ] && up_metrics=(--metrics-base-port "$metrics_port")
P2P_AGENT="$agent" "$root/scripts/cluster.sh" up "${up_tls[@]}" "${up_metrics[@]}" --topology star --nodes "$nodes" --base-port "$base" --dir "$dir/c" > "$dir/up.log" 2>&1 \
  || { echo "cluster_flood: cluster.sh up failed: $(tail -3 "$dir/up.log")" >&2; exit 1; }
"$agent" put "${tls[@]}" --peer "127.0.0.1:$base" --input "$dir/sample-$rows/vectors.fvecs" --window "$window" --window-mb "${WINDOW_MB:-0}" > "$dir/put.out" 2> "$dir/put.err" &
put=$!
: > "$dir/probes"
: > "$dir/requests"
put_rc=0
if [ "$kind" = connection ]; then
  # shellcheck disable=SC2086
  "$agent" status "${tls[@]}" --peer "127.0.0.1:$((base + probe - 1))" --watch 0.1 ${STATUS_ARGS:-} > "$dir/watch.out" 2> "$dir/watch.err" &
  watch=$!
  wait "$put" || put_rc=$?
  kill -TERM "$watch" 2>/dev/null || true # the watch ends after the answer it waits for
  wait "$watch" || echo "cluster_flood: the status watch failed: $(tail -1 "$dir/watch.err")" >&2
  sed -n 's/^--- .*, answered in \([0-9.]*\) ms$/\1/p' "$dir/watch.out" | awk '{printf "%.6f\n", $1 / 1000}' > "$dir/probes"
fi
while kill -0 "$put" 2>/dev/null; do
  start=$(date +%s%N)
  if [ "$kind" = metrics ]; then
    # curl's own time, connect to last byte, apart: on a saturated machine starting a process
    # takes longer than the answer.
    curl -s -m 30 -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$((metrics_port + probe - 1))/metrics" >> "$dir/requests" \
      || echo "cluster_flood: a /metrics probe failed" >&2
  else
    timeout 30 "$agent" status "${tls[@]}" --peer "127.0.0.1:$((base + probe - 1))" ${STATUS_ARGS:-} > /dev/null 2>&1 || echo "cluster_flood: a status probe failed" >&2
  fi
  echo "$(( $(date +%s%N) - start ))" | awk '{printf "%.6f\n", $1 / 1e9}' >> "$dir/probes"
  sleep 0.1
done
[ "$kind" = connection ] || wait "$put" || put_rc=$?
down
down_lines=$(for f in "$dir"/c/node-*/node.log; do sed "/received SIGTERM/q" "$f"; done | grep "is down" | grep -cv "user_shutdown" || true)
echo "put: $(cat "$dir/put.out")$( [ "$put_rc" -ne 0 ] && echo " FAILED: $(tail -1 "$dir/put.err")")"
echo "peers seen down during the put: $down_lines"
summary() { sort -n "$1" | awk -v p="$probe" -v k="$2" '{a[NR]=$1} END {printf "node-%s %s: %d, p50 %.3f s, p99 %.3f s, max %.3f s\n", p, k, NR, a[int(NR*0.5)+1], a[int(NR*0.99)+1], a[NR]}'; }
summary "$dir/probes" "$kind probes"
[ -s "$dir/requests" ] && summary "$dir/requests" "$kind requests (curl's time_total)"
[ "$put_rc" -eq 0 ]
