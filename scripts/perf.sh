#!/usr/bin/env bash
# Runs a perf scenario and keeps its results with plots:
#   scripts/perf.sh [SCENARIO.json] [-- BENCH_OPTIONS...]     (default: perf/scenarios/seed-guide.json)
# Sets up and builds first (scripts/setup.sh). Results go to perf/results/NAME-TIMESTAMP/:
# result.json (the bench --out document), table.txt (the printed table), and PNG plots drawn
# with gnuplot: throughput.png (rate per step and node count), latency.png (p50/p99 per step),
# and scaling.png when the scenario runs several node counts.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scenario="$root/perf/scenarios/seed-guide.json"
case "${1:-}" in
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  --) ;;
  "") ;;
  *) scenario="$1" ;;
esac
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
[ -f "$scenario" ] || { echo "perf.sh: no scenario file '$scenario'" >&2; exit 2; }

"$root/scripts/setup.sh"
name="$(basename "$scenario" .json)"
out="$root/perf/results/$name-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
"$root/build/p2p-agent" bench --scenario "$scenario" --out "$out/result.json" "$@" | tee "$out/table.txt"

# One line per result in result.json: label nodes rate p50 p99 (the bench writes one result per line).
sed -e 's/, "guide".*//' -n \
    -e 's/.*"label": "\([^"]*\)", "nodes": \([0-9]*\),.*"rate_per_s": \([0-9.]*\), "p50_us": \([0-9.]*\), "p99_us": \([0-9.]*\),.*/\1 \2 \3 \4 \5/p' \
  "$out/result.json" > "$out/results.dat"
[ -s "$out/results.dat" ] || { echo "perf.sh: no results in $out/result.json" >&2; exit 1; }
counts=$(awk '{print $2}' "$out/results.dat" | sort -un | tr '\n' ' ')
labels=$(awk '!seen[$1]++ {print $1}' "$out/results.dat" | tr '\n' ' ')

# throughput.dat: label, then the rate at each node count (columns in the order of $counts).
awk -v counts="$counts" -v labels="$labels" '
  { rate[$1 " " $2] = $3 }
  END {
    n = split(counts, c, " "); m = split(labels, l, " ")
    for (i = 1; i <= m; i++) { line = l[i]; for (j = 1; j <= n; j++) line = line " " ((l[i] " " c[j]) in rate ? rate[l[i] " " c[j]] : "NaN"); print line }
  }' "$out/results.dat" > "$out/throughput.dat"
ncounts=$(echo $counts | wc -w)

last=$(echo $counts | awk '{print $NF}')
awk -v n="$last" '$2 == n' "$out/results.dat" > "$out/latency.dat"
throughput_plot="" j=2
for n in $counts; do
  throughput_plot="$throughput_plot${throughput_plot:+, }\"$out/throughput.dat\" using $j:xtic(1) title '$n node(s)'"
  j=$((j + 1))
done

gnuplot <<GNUPLOT
set terminal pngcairo noenhanced size 1100,600 font ",10"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set grid ytics
set xtics rotate by -25
set key top right
set yrange [1:*]

set output "$out/throughput.png"
set title "$name: throughput per step (items/s, log scale)"
set ylabel "items/s"
plot $throughput_plot

set output "$out/latency.png"
set title "$name: request latency per step at the client, $last node(s) (us, log scale)"
set ylabel "microseconds"
plot "$out/latency.dat" using 4:xtic(1) title "p50", "$out/latency.dat" using 5 title "p99"
GNUPLOT

if [ "$ncounts" -gt 1 ]; then
  gnuplot <<GNUPLOT
set terminal pngcairo noenhanced size 900,600 font ",10"
set output "$out/scaling.png"
set title "$name: throughput per node count"
set xlabel "nodes"
set ylabel "items/s (log scale)"
set logscale y
set grid
set key outside right
set xtics 1
plot for [s in "$labels"] "< awk -v s=" . s . " '\$1 == s' $out/results.dat" using 2:3 with linespoints title s
GNUPLOT
fi
echo "perf.sh: results and plots in ${out#$root/}/: $(cd "$out" && ls *.png | tr '\n' ' ')"
