#!/usr/bin/env bash
# The 10 M-row ingest, whole programs, hexcover and the Python baseline in
# turns: ROUNDS rounds of (hexcover ingest, ingest_baseline.py), each run
# measured by /usr/bin/time -v. This VM's speed drifts by 20-40 % within
# minutes, which criterion's consecutive runs (all of hexcover, then all of
# Python) cannot tell from a difference between the programs; runs in turns
# see the same drift, so the ratio of each round is the figure to read.
#
# Usage: benches/ingest_interleaved.sh HEXCOVER_BIN PYTHON LINKS_CSV WORKDIR [ROUNDS]
set -euo pipefail
HEX=$1 PY=$2 INPUT=$3 WORK=$4 ROUNDS=${5:-4}
cd "$(dirname "$0")/.."
mkdir -p "$WORK"

# run NAME COMMAND...: one measured run; prints "NAME WALL_S RSS_KIB".
run() {
  local name=$1; shift
  rm -rf "$WORK/out-$name"
  /usr/bin/time -v -o "$WORK/time-$name.txt" "$@" > /dev/null
  awk -v name="$name" '
    /Elapsed \(wall clock\)/ { n = split($NF, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i] }
    /Maximum resident set size/ { rss = $NF }
    END { printf "%s %.2f %d\n", name, s, rss }' "$WORK/time-$name.txt"
  rm -rf "$WORK/out-$name"
}

results="$WORK/interleaved.txt"
: > "$results"
for round in $(seq "$ROUNDS"); do
  run hexcover "$HEX" ingest "$INPUT" --out "$WORK/out-hexcover" --quiet | tee -a "$results"
  run python "$PY" benches/python/ingest_baseline.py "$INPUT" "$WORK/out-python" | tee -a "$results"
done
"$PY" - "$results" <<'PYEOF'
import statistics, sys
runs = [line.split() for line in open(sys.argv[1])]
hex_ = [(float(w), int(r)) for n, w, r in runs if n == "hexcover"]
py = [(float(w), int(r)) for n, w, r in runs if n == "python"]
ratios = [p[0] / h[0] for h, p in zip(hex_, py)]
mib = lambda kib: kib / 1024
print(f"rounds: {len(ratios)}")
print(f"hexcover ingest:    wall median {statistics.median(w for w, _ in hex_):.2f} s "
      f"(runs {', '.join(f'{w:.2f}' for w, _ in hex_)}), peak RSS max {mib(max(r for _, r in hex_)):,.0f} MiB")
print(f"ingest_baseline.py: wall median {statistics.median(w for w, _ in py):.2f} s "
      f"(runs {', '.join(f'{w:.2f}' for w, _ in py)}), peak RSS max {mib(max(r for _, r in py)):,.0f} MiB")
print(f"Python wall / hexcover wall per round: {', '.join(f'{r:.2f}' for r in ratios)}; "
      f"median {statistics.median(ratios):.2f}x")
PYEOF
