#!/usr/bin/env bash
# Starts, stops and shows a cluster of p2p-agent nodes on one host (loopback by default).
#   scripts/cluster.sh up --topology star|chain|mesh --nodes N [--base-port P] [--dir D] [--host H] [--metrics-base-port M]
#                         [--name CLUSTER] [--replicas R] [--tls] [--insecure-plaintext]   (the latter for a --host that is not loopback)
#   scripts/cluster.sh down [--dir D]
#   scripts/cluster.sh status [--dir D]
# Node i (1..N) is node-i on port P+i-1, with config.json, node.log and node.pid in D/node-i/.
# --tls: a fresh CA and certificates in D/tls (scripts/make-certs.sh: ca.pem, node-i.pem/.key,
# client.pem/.key), every link TLS; clients then need --tls-dir D/tls (status and down use it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# The binary: $P2P_AGENT, else the build in this source tree, else an install's bin/ (this script
# then lives in PREFIX/share/p2p-agent/scripts), else p2p-agent on the PATH.
agent="${P2P_AGENT:-}"
if [ -z "$agent" ]; then
  for candidate in "$root/build/p2p-agent" "$root/../../bin/p2p-agent"; do
    [ -x "$candidate" ] && { agent="$candidate"; break; }
  done
  agent="${agent:-p2p-agent}"
fi
cmd="${1:-}"
[ $# -gt 0 ] && shift
topology=star nodes=3 base_port=7401 dir="$PWD/cluster" host=127.0.0.1 wait_s=60 metrics_base=0 plaintext=false name=local replicas=2 tls=false

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "cluster.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --topology) topology="${2:?--topology needs a value}"; shift 2 ;;
    --nodes) nodes="${2:?--nodes needs a value}"; shift 2 ;;
    --base-port) base_port="${2:?--base-port needs a value}"; shift 2 ;;
    --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
    --host) host="${2:?--host needs a value}"; shift 2 ;;
    --wait) wait_s="${2:?--wait needs a value}"; shift 2 ;;
    --metrics-base-port) metrics_base="${2:?--metrics-base-port needs a value}"; shift 2 ;;
    --insecure-plaintext) plaintext=true; shift ;;
    --tls) tls=true; shift ;;
    --name) name="${2:?--name needs a value}"; shift 2 ;;
    --replicas) replicas="${2:?--replicas needs a value}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

node_dirs() { ls -d "$dir"/node-* 2>/dev/null | sort -V; }

# A TLS cluster's client files, for the commands below (unless the caller chose some).
[ -f "$dir/tls/client.pem" ] && [ -z "${P2P_TLS_DIR:-}" ] && export P2P_TLS_DIR="$dir/tls"

addr_of() { echo "$host:$((base_port + $1 - 1))"; }

bootstrap_for() { # topology, node index -> JSON list items
  local i=$1 out="" j
  case "$topology" in
    star) [ "$i" -gt 1 ] && out="\"$(addr_of 1)\"" ;;
    chain) [ "$i" -gt 1 ] && out="\"$(addr_of $((i - 1)))\"" ;;
    mesh) for ((j = 1; j < i; j++)); do out="$out${out:+, }\"$(addr_of "$j")\""; done ;;
  esac
  echo "$out"
}

up() {
  case "$topology" in star|chain|mesh) ;; *) die "--topology: expected star, chain or mesh, got '$topology'" ;; esac
  [[ "$nodes" =~ ^[1-9][0-9]*$ ]] || die "--nodes: expected a positive integer, got '$nodes'"
  [[ "$base_port" =~ ^[0-9]+$ ]] && [ "$base_port" -gt 0 ] && [ $((base_port + nodes - 1)) -le 65535 ] \
    || die "--base-port: expected 1..65535 for every node, got '$base_port'"
  [[ "$metrics_base" =~ ^[0-9]+$ ]] && [ $((metrics_base + nodes - 1)) -le 65535 ] \
    || die "--metrics-base-port: expected 1..65535 for every node (0: no metrics), got '$metrics_base'"
  [[ "$replicas" =~ ^[0-9]+$ ]] && [ "$replicas" -ge 1 ] && [ "$replicas" -le 16 ] \
    || die "--replicas: expected 1..16 copies of every vector, got '$replicas'"
  [[ "$name" =~ ^[A-Za-z0-9._-]{1,64}$ ]] || die "--name: expected 1 to 64 letters, digits, '.', '_' or '-', got '$name'"
  [ -x "$agent" ] || die "no $agent: run scripts/setup.sh first"
  local template="$root/config/topologies/$topology.json" i d tls_json
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  rm -rf "$dir/tls"
  if [ "$tls" = true ]; then
    local names=(client)
    for ((i = 1; i <= nodes; i++)); do names+=("node-$i"); done
    "$root/scripts/make-certs.sh" --dir "$dir/tls" "${names[@]}" > /dev/null || die "could not make the TLS files in $dir/tls"
    export P2P_TLS_DIR="$dir/tls"
  else
    unset P2P_TLS_DIR # a plaintext cluster: its nodes speak no TLS
  fi
  for ((i = 1; i <= nodes; i++)); do
    d="$dir/node-$i"
    mkdir -p "$d"
    if [ -f "$d/node.pid" ] && kill -0 "$(cat "$d/node.pid")" 2>/dev/null; then
      die "node-$i is already running (pid $(cat "$d/node.pid")); run 'cluster.sh down --dir $dir' first"
    fi
    tls_json=""
    [ "$tls" = true ] && tls_json=", \"tls\": {\"ca\": \"$dir/tls/ca.pem\", \"certificate\": \"$dir/tls/node-$i.pem\", \"key\": \"$dir/tls/node-$i.key\"}"
    sed -e "s|{{I}}|$i|g" -e "s|{{HOST}}|$host|g" -e "s|{{PORT}}|$((base_port + i - 1))|g" \
        -e "s|{{DIR}}|$dir|g" -e "s|{{BOOTSTRAP}}|$(bootstrap_for "$i")|g" \
        -e "s|{{PLAINTEXT}}|$plaintext|g" -e "s|{{NAME}}|$name|g" -e "s|{{REPLICAS}}|$replicas|g" -e "s|{{TLS}}|$tls_json|g" "$template" > "$d/config.json"
    metrics=()
    [ "$metrics_base" -gt 0 ] && metrics=(--metrics-port $((metrics_base + i - 1)))
    "$agent" node --config "$d/config.json" "${metrics[@]}" > "$d/node.log" 2>&1 &
    echo $! > "$d/node.pid"
  done
  # Wait (bounded) until every node sees all N members.
  local deadline=$((SECONDS + wait_s)) ready
  while :; do
    ready=0
    for ((i = 1; i <= nodes; i++)); do
      # A node that exited (a taken port, a bad config) fails the start at once.
      if ! kill -0 "$(cat "$dir/node-$i/node.pid")" 2>/dev/null; then
        local rc=0
        wait "$(cat "$dir/node-$i/node.pid")" 2>/dev/null || rc=$?
        echo "cluster.sh: node-$i exited during start (status $rc): $(tail -n 3 "$dir/node-$i/node.log" | tr '\n' ' ')" >&2
        down >&2
        return 1
      fi
      count=$("$agent" peers --peer "$(addr_of "$i")" --json 2>/dev/null | grep -o '"state": "alive"' | wc -l || true)
      [ "$count" -eq "$nodes" ] && ready=$((ready + 1))
    done
    if [ "$ready" -eq "$nodes" ]; then
      echo "cluster up: $nodes nodes ($topology) on $host:$base_port..$((base_port + nodes - 1)), files in $dir"
      return 0
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "cluster.sh: only $ready of $nodes nodes see all members after ${wait_s}s; logs in $dir/node-*/node.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

down() {
  local d pid stopped=0
  for d in $(node_dirs); do
    [ -f "$d/node.pid" ] || continue
    pid=$(cat "$d/node.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && { echo "cluster.sh: $(basename "$d") did not stop in 30 s, killing it" >&2; kill -KILL "$pid"; }
      stopped=$((stopped + 1))
    fi
    rm -f "$d/node.pid"
  done
  echo "cluster down: stopped $stopped nodes"
}

status() {
  local d port out unreachable=0 seen=0
  for d in $(node_dirs); do
    seen=$((seen + 1))
    port=$(grep -o '"port": *[0-9]*' "$d/config.json" | head -1 | grep -o '[0-9]*$')
    host_of=$(grep -o '"host": *"[^"]*"' "$d/config.json" | head -1 | sed 's/.*"\([^"]*\)"$/\1/')
    echo "== $(basename "$d") ($host_of:$port)"
    # The node that answers there must be this one (another process may hold the port).
    if out=$("$agent" peers --peer "$host_of:$port" 2>&1) && [[ "$out" == "$(basename "$d") (self)"* ]]; then
      echo "$out"
    else
      echo "$out"
      [[ "$out" == *"(self)"* ]] && echo "(that is $(echo "$out" | head -1 | cut -d' ' -f1), not $(basename "$d"))"
      unreachable=$((unreachable + 1))
    fi
  done
  [ "$seen" -gt 0 ] || { echo "cluster.sh: no nodes in $dir" >&2; return 1; }
  if [ "$unreachable" -gt 0 ]; then
    echo "cluster.sh: $unreachable of $seen nodes did not answer as themselves" >&2
    return 1
  fi
}

case "$cmd" in
  up) up ;;
  down) down ;;
  status) status ;;
  -h|--help|help|"") usage; [ -n "$cmd" ] || exit 2 ;;
  *) die "unknown command '$cmd' (up, down, status)" ;;
esac
