#!/usr/bin/env bash
# make bench: every benchmark beside its baseline, in one invocation.
# Prints criterion's figures and a peak-memory table; see BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
PY=${PY:-$(pwd)/.venv/bin/python}
WORK="$(pwd)/target/bench-data"
ROWS=${SYNTH_ROWS:-10000000}
mkdir -p "$WORK"

echo "== building (release)"
cargo build --release -p hexcover
HEX=target/release/hexcover

echo "== inputs"
# Real: the Ulm drive test's accepted links, in the link-table CSV layout, so
# both pipelines read the same file.
"$HEX" ingest "$SHARED/data/ulm-ttn-2021/measurements.csv" \
  --gateways "$SHARED/data/ulm-ttn-2021/gateways.csv" --out "$WORK/ulm" --quiet
"$PY" - "$WORK/ulm/links.parquet" "$WORK/ulm-links.csv" <<'PYEOF'
import sys, polars as pl
cols = ["tx_lat","tx_lon","rx_lat","rx_lon","rssi_dbm","snr_db","freq_mhz",
        "spreading_factor","time_unix_ms","tx_id","rx_id"]
pl.read_parquet(sys.argv[1]).select(cols).write_csv(sys.argv[2])
PYEOF
# Synthetic (named so everywhere): a 10-million-row link table.
SYNTH="$WORK/synthetic-links-$ROWS.csv"
[ -s "$SYNTH" ] || "$PY" benches/python/gen_synthetic_links.py "$SYNTH" --rows "$ROWS" --seed 1
ls -l "$WORK/ulm-links.csv" "$SYNTH"

echo "== criterion: hexcover beside Python polars + polars-h3"
HEXCOVER_BENCH_PYTHON="$PY" HEXCOVER_BENCH_ULM_LINKS="$WORK/ulm-links.csv" \
HEXCOVER_BENCH_SYNTH_LINKS="$SYNTH" \
  cargo bench -p hexcover-benches --bench ingest

echo "== criterion: terrain (DEM cache beside per-point GDAL reads and the great-circle profile)"
HEXCOVER_SHARED="$(cd "$SHARED" && pwd)" cargo bench -p hexcover-benches --bench terrain

echo "== criterion: placement on the shared MCLP instances beside CBC, CELF and numpy greedy"
HEXCOVER_BENCH_PYTHON="$PY" HEXCOVER_SHARED="$(cd "$SHARED" && pwd)" \
  cargo bench -p hexcover-benches --bench optimize

echo "== criterion: per-site coverage, 20 km at res 10, beside SPLAT! (one process per site)"
# A learned model trained on Ulm for the learned-model variant (no CV: only
# the model is needed here).
"$HEX" train --links "$SHARED/data/ulm-ttn-2021/measurements.csv" \
  --gateways "$SHARED/data/ulm-ttn-2021/gateways.csv" --dem "$SHARED/data/srtm3-ulm" \
  --device-height-m 2 --cv-folds 0 --out "$WORK/ulm-model.json" --quiet
HEXCOVER_SHARED="$(cd "$SHARED" && pwd)" HEXCOVER_BENCH_MODEL="$WORK/ulm-model.json" \
  cargo bench -p hexcover-benches --bench coverage
# The whole command once (DEM load, sweep, GeoParquet write), as a user runs it.
/usr/bin/time -f "hexcover coverage (release, Minster, 20 km, res 10): wall %e s, peak RSS %M KB" \
  "$HEX" coverage --dem "$SHARED/data/srtm3-ulm" --site 48.3985081189661,9.991811778526625,10 \
  --radius-km 20 --out "$WORK/coverage-minster.parquet"

echo "== the map server: what-if (criterion) and tiles under load (wrk, beside martin)"
# The full Ulm study as `make demo` writes it (out/ulm), else built here.
STUDY=${STUDY:-out/ulm}
if [ ! -d "$STUDY/coverage" ]; then
  STUDY="$WORK/ulm-study"
  HEX="$HEX" SHARED="$SHARED" benches/ulm_study.sh "$STUDY"
fi
HEXCOVER_SHARED="$(cd "$SHARED" && pwd)" HEXCOVER_BENCH_STUDY="$(cd "$STUDY" && pwd)" \
HEXCOVER_BENCH_MODEL="$WORK/ulm-model.json" \
  cargo bench -p hexcover-benches --bench whatif
STUDY="$STUDY" SHARED="$SHARED" HEX="$HEX" benches/tiles_load.sh

echo "== whole programs in turns on the synthetic file: wall and peak memory (/usr/bin/time -v)"
benches/ingest_interleaved.sh "$HEX" "$PY" "$SYNTH" "$WORK/interleaved" "${INGEST_ROUNDS:-4}"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(lscpu | awk -F: '/Model name/ {gsub(/^ +/,"",$2); print $2}')"
