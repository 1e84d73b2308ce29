#!/usr/bin/env bash
# benches/tiles_load.sh: the map server's tiles under load, beside martin
# serving the same study as a PMTiles archive. Run alone or from run.sh.
#
#  1. `hexcover serve STUDY` (release binary, API only) on loopback;
#  2. `hexcover export STUDY --pmtiles` (zoom 0-16, all five layers per tile)
#     served by martin on another loopback port;
#  3. wrk, 2 threads, 64 connections, DURATION seconds against each server in
#     turn, cycling through the same z/x/y list: every tile over the study's
#     bounds (GET /api/v1/layers) at zooms 10-16 — hexcover's `measured`
#     layer, martin's combined source (all layers in one tile), and martin's
#     `--layers measured` archive (the same bytes hexcover serves, gzip'ed);
#  4. requests/s, p50/p99 latency and errors of both, as one table.
#
# Environment: STUDY (default out/ulm, else built in target/bench-data),
# DURATION (s, default 20), CONNECTIONS (64), THREADS (2), HEX_PORT (18281),
# MARTIN_PORT (18282), HEX (the hexcover binary, default target/release/hexcover).
# Only loopback addresses are used; every run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
WORK="$(pwd)/target/bench-data"
HEX=${HEX:-target/release/hexcover}
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
HEX_PORT=${HEX_PORT:-18281}
MARTIN_PORT=${MARTIN_PORT:-18282}
# martin 1.14.0 is the newest that builds with Rust 1.95 (1.16 needs 1.98);
# only its PMTiles source is built (no PostGIS, rendering, fonts or web UI).
MARTIN_VERSION=${MARTIN_VERSION:-1.14.0}
mkdir -p "$WORK"

[ -x "$HEX" ] || { echo "error: $HEX missing: cargo build --release -p hexcover"; exit 1; }
STUDY=${STUDY:-out/ulm}
if [ ! -d "$STUDY/coverage" ]; then
  STUDY="$WORK/ulm-study"
  HEX="$HEX" SHARED="$SHARED" benches/ulm_study.sh "$STUDY"
fi
if ! command -v wrk > /dev/null; then
  echo "installing wrk (Debian)"
  SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk > /dev/null
fi
MARTIN=$(command -v martin || true)
if [ -z "$MARTIN" ]; then
  echo "installing martin $MARTIN_VERSION (cargo install; a long build)"
  if cargo install martin --version "$MARTIN_VERSION" --locked --no-default-features \
      --features pmtiles > "$WORK/martin-install.log" 2>&1; then
    MARTIN=$(command -v martin || echo "$HOME/.cargo/bin/martin")
  else
    echo "martin could not be installed (see $WORK/martin-install.log); hexcover only"
    tail -5 "$WORK/martin-install.log"
  fi
fi

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done; }
trap cleanup EXIT

wait_for() { # url, pid of the server that must answer it
  for _ in $(seq 1 300); do
    kill -0 "$2" 2> /dev/null || { echo "error: the server for $1 exited (port taken?)"; exit 1; }
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.2
  done
  echo "error: $1 did not answer in 60 s"; exit 1
}

echo "== hexcover serve $STUDY on 127.0.0.1:$HEX_PORT"
"$HEX" serve "$STUDY" --port "$HEX_PORT" --host 127.0.0.1 --no-web > "$WORK/serve.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$HEX_PORT/healthz" "$!"

echo "== the tile list: every tile over the study bounds at zooms 10-16"
TILES="$WORK/tiles-z10-16.txt"
curl -sf "http://127.0.0.1:$HEX_PORT/api/v1/layers" | python3 -c '
import json, math, sys
w, s, e, n = json.load(sys.stdin)["bounds"]
def tile(lat, lon, z):
    k = 2 ** z
    x = (lon + 180) / 360
    y = (1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2
    return min(k - 1, int(x * k)), min(k - 1, int(y * k))
print(f"bounds {w:.5f},{s:.5f},{e:.5f},{n:.5f}", file=sys.stderr)
for z in range(10, 17):
    x0, y0 = tile(n, w, z)
    x1, y1 = tile(s, e, z)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            print(f"{z}/{x}/{y}")
' > "$TILES"
echo "$(wc -l < "$TILES") tiles ($(cut -d/ -f1 "$TILES" | uniq -c | awk '{printf "z%s: %s  ", $2, $1}'))"

RESULTS=()
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
run_wrk() { # name, base url, prefix, suffix
  local name=$1 base=$2
  # Warm-up: 5 s over the list, which passes every tile many times (both
  # servers cache what they encode or read), then the measured run.
  TILES_FILE="$TILES" TILE_PREFIX=$3 TILE_SUFFIX=$4 \
    wrk -t "$THREADS" -c "$CONNECTIONS" -d 5s -H "Accept-Encoding: gzip" \
    -s benches/tiles_load.lua "$base" > /dev/null
  echo "== wrk: $name, $THREADS threads, $CONNECTIONS connections, ${DURATION} s"
  local out
  out=$(TILES_FILE="$TILES" TILE_PREFIX=$3 TILE_SUFFIX=$4 \
    wrk -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency -H "Accept-Encoding: gzip" \
    -s benches/tiles_load.lua "$base")
  echo "$out"
  RESULTS+=("$(printf '%-34s %s' "$name" "$(grep '^RESULT' <<< "$out" | cut -d' ' -f2-)")")
}

# Every tile of the archive at zooms 10-14 equals the server's five layers of that tile.
check_same_tiles() {
  python3 - "$HEX_PORT" "$MARTIN_PORT" "$TILES" <<'PYEOF'
import gzip, sys, urllib.request
hp, mp, tiles = sys.argv[1:4]
def get(url, gz=False):
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gz else {})
    with urllib.request.urlopen(req) as r:
        body = r.read()
        return gzip.decompress(body) if r.headers.get("Content-Encoding") == "gzip" else body
same = differ = full = 0
for zxy in open(tiles).read().split():
    if int(zxy.split("/")[0]) > 14:
        continue
    live = b"".join(get(f"http://127.0.0.1:{hp}/api/v1/tiles/{l}/{zxy}.mvt")
                    for l in ["measured", "predicted", "gaps", "sites", "suggestions"])
    archived = get(f"http://127.0.0.1:{mp}/ulm/{zxy}", gz=True)
    same += live == archived
    differ += live != archived
    full += len(archived) > 0
print(f"zoom 10-14: {same} tiles identical from both servers ({full} with features), {differ} different")
sys.exit(1 if differ else 0)
PYEOF
}

run_wrk "hexcover serve (measured layer)" "http://127.0.0.1:$HEX_PORT" "/api/v1/tiles/measured/" ".mvt"

if [ -n "$MARTIN" ]; then
  echo "== hexcover export --pmtiles (zoom 0-16): all layers, and the measured layer alone"
  "$HEX" export "$STUDY" --pmtiles "$WORK/ulm.pmtiles"
  "$HEX" export "$STUDY" --pmtiles "$WORK/ulm-measured.pmtiles" --layers measured --quiet
  echo "== martin $("$MARTIN" --version 2> /dev/null | head -1) on 127.0.0.1:$MARTIN_PORT"
  "$MARTIN" --listen-addresses "127.0.0.1:$MARTIN_PORT" "$WORK/ulm.pmtiles" \
    "$WORK/ulm-measured.pmtiles" > "$WORK/martin.log" 2>&1 &
  PIDS+=($!)
  wait_for "http://127.0.0.1:$MARTIN_PORT/health" "$!"
  curl -sf "http://127.0.0.1:$MARTIN_PORT/ulm" | python3 -c '
import json, sys
t = json.load(sys.stdin)
print("martin TileJSON: layers", [l["id"] for l in t.get("vector_layers", [])],
      "zoom", t.get("minzoom"), "-", t.get("maxzoom"))'
  check_same_tiles
  run_wrk "martin $MARTIN_VERSION (PMTiles, 5 layers)" "http://127.0.0.1:$MARTIN_PORT" "/ulm/" ""
  run_wrk "martin $MARTIN_VERSION (PMTiles, measured)" "http://127.0.0.1:$MARTIN_PORT" "/ulm-measured/" ""
fi

echo "== tiles under load ($THREADS wrk threads, $CONNECTIONS connections, ${DURATION} s, $(wc -l < "$TILES") tiles z10-16, loopback)"
printf '%s\n' "${RESULTS[@]}"
echo "machine: $(nproc) cores; load average before the runs $LOAD_BEFORE, after $(cut -d' ' -f1-3 /proc/loadavg)"
