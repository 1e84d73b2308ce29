#!/usr/bin/env bash
# benches/ulm_study.sh DIR: the full Ulm study in DIR, as `make demo` writes
# out/ulm (ingest, trained model, 10 km coverage of every gateway, 5 suggested
# sites), with the release binary. Does nothing when DIR already has
# links.parquet, coverage/ and model.json. The map-server benchmarks
# (tiles_load.sh, the what-if bench) use it when out/ulm is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: benches/ulm_study.sh DIR}
SHARED=${SHARED:-../shared}
ULM="$SHARED/data/ulm-ttn-2021"
DEM="$SHARED/data/srtm3-ulm"
HEX=${HEX:-target/release/hexcover}

if [ -s "$DIR/links.parquet" ] && [ -d "$DIR/coverage" ] && [ -s "$DIR/model.json" ]; then
  exit 0
fi
echo "== building the Ulm study in $DIR (the make demo pipeline)"
rm -rf "$DIR"
"$HEX" ingest "$ULM/measurements.csv" --gateways "$ULM/gateways.csv" --out "$DIR" \
  --res 8,9,12 --quiet
"$HEX" train --links "$DIR/links.parquet" --dem "$DEM" --device-height-m 2 \
  --cv-folds 0 --out "$DIR/model.json" --quiet
mkdir -p "$DIR/coverage"
tail -n +2 "$ULM/gateways.csv" | while IFS=, read -r id lat lon _name; do
  "$HEX" coverage --dem "$DEM" --model "$DIR/model.json" --site "$lat,$lon" \
    --radius-km 10 --out "$DIR/coverage/$id.parquet" --quiet
done
"$HEX" optimize --study "$DIR" --dem "$DEM" --model "$DIR/model.json" \
  --sites 5 --out "$DIR/suggested.csv" > /dev/null
