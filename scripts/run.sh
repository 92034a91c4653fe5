#!/usr/bin/env bash
# The main job: set up and build, start a local 3-node cluster on 127.0.0.1 (scripts/cluster.sh),
# run the performance guide's scenario on it (perf/scenarios/seed-guide.json), stop the cluster
# and print the table: each figure beside the guide's expectation and the raw-library baseline
# measured in the same run. Results and plots are kept under perf/results/.
#   scripts/run.sh [SCENARIO.json] [-- BENCH_OPTIONS...]
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/perf.sh "${@:-perf/scenarios/seed-guide.json}"
