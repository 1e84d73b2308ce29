#!/usr/bin/env bash
# The scale benchmark (issue 6): `hexcover ingest` of a SYNTHETIC links file
# of 100 M links with the process's address space capped at 4 GiB, beside a
# smaller file ingested both ways (streaming and in memory). Prints one line
# per run: rows, wall time, links/s, peak RSS. See BENCHMARKS.md, "Scale".
#
# THE INPUT IS SYNTHETIC (benches/python/gen_synthetic_links.py): random
# links shaped like a LoRaWAN network, not measurements.
#
# The cap is `ulimit -v` (RLIMIT_AS, address space), not a cgroup: it needs no
# privileges and no cgroup delegation, and it is the stricter of the two —
# every mapping counts, touched or not (thread stacks, malloc arenas, memory
# maps of files). That is why the streaming path reads Parquet row groups
# with plain reads instead of polars' whole-file memory map.
#
# Environment: SCALE_ROWS (100000000), SCALE_COMPARE_ROWS (10000000; 0 skips
# the comparison), SCALE_CAP_KB (4194304 = 4 GiB), SCALE_WORK
# (target/scale-data), SCALE_CLEAN=1 deletes the synthetic inputs at the end
# (outputs are always deleted: the 100 M study is ~5 GB), SCALE_BUILD=0 uses
# the release binary as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$(pwd)/.venv/bin/python}
ROWS=${SCALE_ROWS:-100000000}
COMPARE_ROWS=${SCALE_COMPARE_ROWS:-10000000}
CAP_KB=${SCALE_CAP_KB:-4194304}
WORK=${SCALE_WORK:-$(pwd)/target/scale-data}
HEX=target/release/hexcover
mkdir -p "$WORK"

if [ "${SCALE_BUILD:-1}" != 0 ]; then
  echo "== building (release)"
  cargo build --release -p hexcover
fi

# 200,000 transmitters of which 1 % move (trackers on circular routes), the
# rest parked sensors; 2,000 receivers over 60 km x 60 km around Ulm.
synthetic() {
  local rows=$1
  local file="$WORK/synthetic-links-$rows.parquet"
  if [ ! -s "$file" ]; then
    "$PY" benches/python/gen_synthetic_links.py "$file" --rows "$rows" --seed 1 \
      --transmitters 200000 --moving-share 0.01 >&2
  fi
  echo "$file"
}

# run LABEL FILE MODE CAP_KB|none: one ingest at res 8,9,12, measured by
# /usr/bin/time -v; MODE is HEXCOVER_INGEST (stream or memory).
run() {
  local label=$1 file=$2 mode=$3 cap=$4
  local out="$WORK/out-$label" timing="$WORK/time-$label.txt"
  rm -rf "$out"
  local status=0
  (
    if [ "$cap" != none ]; then ulimit -v "$cap"; fi
    HEXCOVER_INGEST=$mode HEXCOVER_LOG=info /usr/bin/time -v -o "$timing" \
      "$HEX" ingest "$file" --out "$out" --res 8,9,12 --quiet
  ) 2> "$WORK/stderr-$label.txt" || status=$?
  "$PY" - "$label" "$file" "$mode" "$cap" "$timing" "$out/summary.json" "$status" <<'PYEOF'
import json, os, re, sys
label, file, mode, cap, timing, summary, status = sys.argv[1:]
text = open(timing).read()
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
seconds = sum(float(p) * 60 ** i for i, p in enumerate(reversed(wall.split(":"))))
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
cap_text = "none" if cap == "none" else f"{int(cap) / 1048576:g} GiB (ulimit -v)"
line = (f"{label}: {os.path.basename(file)} ({os.path.getsize(file) / 1e9:.2f} GB), "
        f"mode {mode}, cap {cap_text}: ")
if status != "0" or not os.path.exists(summary):
    print(line + f"FAILED (exit {status}) after {seconds:.1f} s, peak RSS {rss_kb / 1024:,.0f} MiB")
    sys.exit(0)
s = json.load(open(summary))
hexes = ", ".join(f"res {r}: {n:,}" for r, n in sorted(s["hexes"].items(), key=lambda kv: int(kv[0])))
print(line + f"{s['rows_read']:,} rows read, {s['links']:,} links, {s['rejected']:,} rejected; "
      f"wall {seconds:.1f} s = {s['rows_read'] / seconds:,.0f} rows/s; "
      f"peak RSS {rss_kb / 1024:,.0f} MiB; hexes {hexes}")
PYEOF
  if [ "$status" != 0 ]; then tail -3 "$WORK/stderr-$label.txt"; fi
  du -sh "$out" 2>/dev/null || true
  rm -rf "$out"
}

echo "== machine"
nproc
free -g | head -2
echo "== runs (res 8,9,12)"
if [ "$COMPARE_ROWS" != 0 ]; then
  small=$(synthetic "$COMPARE_ROWS")
  run "stream-$COMPARE_ROWS-capped" "$small" stream "$CAP_KB"
  run "memory-$COMPARE_ROWS" "$small" memory none
  run "memory-$COMPARE_ROWS-capped" "$small" memory "$CAP_KB"
fi
big=$(synthetic "$ROWS")
run "stream-$ROWS-capped" "$big" stream "$CAP_KB"

if [ "${SCALE_CLEAN:-0}" = 1 ]; then
  rm -f "$WORK"/synthetic-links-*.parquet
fi
