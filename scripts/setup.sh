#!/usr/bin/env bash
# Installs the Debian packages the project needs (only those missing) and builds into build/.
# Idempotent: on a machine that has everything it only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake make g++ libcaf-dev libssl-dev librocksdb-dev libsimdjson-dev
          libboost-program-options-dev libboost-dev doctest-dev libhnswlib-dev
          gnuplot-nox openssl python3 curl chromium)
# gnuplot: perf plots; python3, curl: the HTTP API tests; chromium: the dashboard test renders the
# page headless
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# promtool checks the /metrics text in the tests: the one binary from Debian's prometheus package,
# not the server (build/tools/promtool); without it that check is skipped with a note.
if ! command -v promtool > /dev/null && [ ! -x build/tools/promtool ]; then
  tmp="$(mktemp -d)"
  if (cd "$tmp" && { apt-get download prometheus > /dev/null 2>&1 \
                     || { $sudo apt-get update -qq && apt-get download prometheus > /dev/null 2>&1; }; } \
      && dpkg-deb -x prometheus_*.deb x); then
    mkdir -p build/tools && install -m 755 "$tmp/x/usr/bin/promtool" build/tools/promtool
  else
    echo "setup: could not fetch promtool; the /metrics format check will be skipped" >&2
  fi
  rm -rf "$tmp"
fi

build_type="${BUILD_TYPE:-Release}"
# P2P_WERROR=ON (scripts/test.sh, CI): compiler warnings fail the build. Unset, the build keeps
# what it had, so that run.sh after test.sh does not rebuild everything for a flag.
cmake -S . -B build -DCMAKE_BUILD_TYPE="$build_type" ${P2P_WERROR:+-DP2P_WERROR="$P2P_WERROR"} >/dev/null
cmake --build build -j2
