#!/usr/bin/env bash
# benches/ulm_study.sh DIR: the full Ulm study in DIR, as `make demo` writes
# out/ulm (`hexcover run studies/ulm.toml`: ingest, trained model, 10 km
# coverage of every gateway, 5 suggested sites), with the release binary.
# Does nothing when DIR already has links.parquet, coverage/ and model.json.
# The map-server benchmarks (tiles_load.sh, the what-if bench) use it when
# out/ulm is missing. studies/ulm.toml reads ../shared beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: benches/ulm_study.sh DIR}
HEX=${HEX:-target/release/hexcover}

if [ -s "$DIR/links.parquet" ] && [ -d "$DIR/coverage" ] && [ -s "$DIR/model.json" ]; then
  exit 0
fi
echo "== building the Ulm study in $DIR (studies/ulm.toml, as make demo does)"
"$HEX" run studies/ulm.toml --dir "$DIR" --quiet
