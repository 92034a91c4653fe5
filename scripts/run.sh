#!/usr/bin/env bash
# The main job: set up and build, start a local 3-node cluster on 127.0.0.1 (scripts/cluster.sh),
# run the performance guide's scenario on it (perf/scenarios/seed-guide.json), stop the cluster
# and print the table: each figure beside the guide's expectation and the raw-library baseline
# measured in the same run. Everything runs 5 times (fresh nodes each time) and the table shows
# medians with their min-max. Results and plots are kept under perf/results/.
#   scripts/run.sh [SCENARIO.json] [-- BENCH_OPTIONS...]     (e.g. -- --repeats 1)
set -euo pipefail
cd "$(dirname "$0")/.."
scenario="perf/scenarios/seed-guide.json"
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  scenario="$1"
  shift
fi
[ "${1:-}" = "--" ] && shift
case " $* " in
  *" --repeats"*) ;;
  *) set -- --repeats 5 "$@" ;;
esac
exec scripts/perf.sh "$scenario" -- "$@"
