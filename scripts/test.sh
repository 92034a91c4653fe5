#!/usr/bin/env bash
# Builds everything and runs every test through CTest (unit, integration, crash).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd build
ctest --output-on-failure --timeout 900 "$@"
