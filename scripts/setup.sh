#!/usr/bin/env bash
# Installs the Debian packages the project needs (only those missing) and builds into build/.
# Idempotent: on a machine that has everything it only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake make g++ libcaf-dev libssl-dev librocksdb-dev libsimdjson-dev
          libboost-program-options-dev libboost-dev doctest-dev libhnswlib-dev
          gnuplot-nox prometheus openssl python3 curl chromium)
# gnuplot: perf plots; prometheus: promtool checks /metrics in the tests; python3, curl: the HTTP
# API tests; chromium: the dashboard test renders the page headless
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build_type="${BUILD_TYPE:-Release}"
# P2P_WERROR=ON (scripts/test.sh, CI): compiler warnings fail the build. Unset, the build keeps
# what it had, so that run.sh after test.sh does not rebuild everything for a flag.
cmake -S . -B build -DCMAKE_BUILD_TYPE="$build_type" ${P2P_WERROR:+-DP2P_WERROR="$P2P_WERROR"} >/dev/null
cmake --build build -j2
