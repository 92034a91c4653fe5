#!/usr/bin/env bash
# The main job: an embedded node stores a generated data set, searches it, and prints recall
# and timings next to raw RocksDB and raw hnswlib measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/perf/vector_bench "$@"
