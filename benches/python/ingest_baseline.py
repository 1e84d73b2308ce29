#!/usr/bin/env python3
"""Python baseline of hexcover's end-to-end ingest, for the ingest benchmark.

The same pipeline as `hexcover ingest` on a generic link table CSV, written
idiomatically with polars + polars-h3 (no pandas in the hot path):

1. read the CSV (header `tx_lat,tx_lon,rx_lat,rx_lon,rssi_dbm,snr_db,freq_mhz,
   spreading_factor,time_unix_ms,tx_id,rx_id`; all but the first five may be
   empty);
2. validate every row with hexcover's rules, first failure wins, in
   hexcover's order: fields parse (missing required field, non-numeric
   value), transmitter position, receiver position, RSSI, SNR, distance;
3. write the rejected rows with their reason to OUT/rejects.csv and the
   accepted links to OUT/links.parquet (hexcover writes both too);
4. aggregate the accepted links per H3 cell of the transmitter;
5. write each resolution's hexes as GeoParquet 1.1 (WKB polygons, CRS
   OGC:CRS84, `bbox` covering column) to OUT/hexes_res{res}.parquet;
6. print one JSON line: rows_read, accepted, rejected, hexes, seconds.

With --repeat N the pipeline runs N times in this interpreter and a last line
{"seconds_total": ...} gives the summed pipeline time (imports excluded), which
the criterion benchmark reads (criterion's iter_custom).

Usage: ingest_baseline.py LINKS_CSV OUT_DIR [--res 9] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import polars as pl
import polars_h3 as plh3
import shapely

# hexcover's validation limits (crates/core/src/link.rs).
RSSI_RANGE_DBM = (-150.0, 0.0)
SNR_RANGE_DB = (-40.0, 40.0)
MAX_LINK_DISTANCE_KM = 100.0
# hexcover measures with h3o's haversine, whose radius is h3's authalic earth
# radius (h3o::EARTH_RADIUS_KM). The IUGG mean radius, 6371.0088 km, differs
# by 1.6 m in 6371 km: 2.6 cm at 100 km, which moves no real row across the
# limit, but using hexcover's constant keeps the two pipelines identical.
EARTH_RADIUS_KM = 6371.007180918475

REQUIRED_FLOATS = ["tx_lat", "tx_lon", "rx_lat", "rx_lon", "rssi_dbm"]
OPTIONAL_NUMBERS = {
    "snr_db": pl.Float64,
    "freq_mhz": pl.Float64,
    "spreading_factor": pl.Int64,
    "time_unix_ms": pl.Int64,
}
NUMERIC = {**dict.fromkeys(REQUIRED_FLOATS, pl.Float64), **OPTIONAL_NUMBERS}
HEADER = [*NUMERIC, "tx_id", "rx_id"]

# How the CSV is read (timed on 1M synthetic rows, 101 MB, 2 cores, polars 2.1):
# - Everything is read as text and the numeric columns are cast with
#   strict=False afterwards. That costs the same as reading them typed with
#   ignore_errors=True (both ~0.40 s per 1M rows) and is the only way to tell
#   an empty field (missing_field) from text such as "abc" (non_numeric): a
#   typed read turns both into null, and would silently accept "abc" in an
#   optional column such as snr_db, which hexcover rejects. It also keeps the
#   original text for rejects.csv.
# - Lazy `pl.scan_csv` with the casts and the validation in one plan, collected
#   once, is a little faster than eager `pl.read_csv` end to end (--res 9):
#   best of 6 runs 1.71 s against 1.89 s (median 2.03 against 2.26), and
#   best of 8 under heavier load 2.13 s against 2.99 s (median 3.40 against
#   3.89). Both were measured while the machine was also compiling, so they
#   are noisy; the CSV read alone is a tie, ~0.3 s either way. The collected
#   rows are then split eagerly: rejects and aggregation both need them, and
#   a lazy plan with two sinks gained nothing (1.71 s, collect_all).


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("links_csv", type=Path, help="generic link table CSV")
    p.add_argument("out_dir", type=Path, help="output directory (created if needed)")
    p.add_argument("--res", default="9", help="H3 resolution(s), e.g. 9 or 8,9,12 (default 9)")
    p.add_argument("--repeat", type=int, default=1, help="run the pipeline N times (default 1)")
    args = p.parse_args(argv)
    try:
        args.res = sorted({int(r) for r in args.res.split(",")})
    except ValueError:
        p.error(f"--res: not a list of integers: {args.res!r}")
    if not all(0 <= r <= 15 for r in args.res):
        p.error(f"--res: resolutions are 0..15, got {args.res}")
    return args


def checked_rows(path: Path) -> pl.DataFrame:
    """Every CSV row as text, its 1-based line number (the header is line 1),
    `_<name>` typed copies of the numeric columns (null where empty or not a
    number) and the reject `reason` (null for an accepted row)."""
    return (
        pl.scan_csv(path, infer_schema=False, row_index_name="row", row_index_offset=2)
        .with_columns(
            pl.col(name).cast(dtype, strict=False).alias(f"_{name}")
            for name, dtype in NUMERIC.items()
        )
        .with_columns(reject_reason())
        .collect()
    )


def haversine_km(lat1: pl.Expr, lon1: pl.Expr, lat2: pl.Expr, lon2: pl.Expr) -> pl.Expr:
    """Great-circle distance, as h3o computes it (haversine with atan2)."""
    lat1, lon1, lat2, lon2 = (e.radians() for e in (lat1, lon1, lat2, lon2))
    sin_lat = ((lat2 - lat1) * 0.5).sin()
    sin_lon = ((lon2 - lon1) * 0.5).sin()
    a = sin_lat * sin_lat + lat1.cos() * lat2.cos() * sin_lon * sin_lon
    return 2.0 * pl.arctan2(a.sqrt(), (1.0 - a).sqrt()) * EARTH_RADIUS_KM


def position_reason(end: str) -> list[tuple[pl.Expr, str]]:
    """hexcover's check_position: 0/0 is no_gps_fix, anything else wrong is out of range."""
    lat, lon = pl.col(f"_{end}_lat"), pl.col(f"_{end}_lon")
    out_of_range = (
        ~lat.is_finite() | ~lon.is_finite()
        | ~lat.is_between(-90.0, 90.0) | ~lon.is_between(-180.0, 180.0)
    )
    return [
        ((lat == 0.0) & (lon == 0.0), "no_gps_fix"),
        (out_of_range, f"{end}_position_out_of_range"),
    ]


def reject_reason() -> pl.Expr:
    """The first failed rule of a row, or null when it passes them all."""
    rules: list[tuple[pl.Expr, str]] = []
    # Parsing: every numeric field, in column order.
    # An empty rssi_dbm is checked after the positions, as hexcover's check_link does.
    for name in NUMERIC:
        if name in REQUIRED_FLOATS and name != "rssi_dbm":
            rules.append((pl.col(name).is_null(), "missing_field"))
        rules.append((pl.col(name).is_not_null() & pl.col(f"_{name}").is_null(), "non_numeric"))
    rules += position_reason("tx")
    rules += position_reason("rx")
    rssi, snr = pl.col("_rssi_dbm"), pl.col("_snr_db")
    rules.append((~rssi.is_between(*RSSI_RANGE_DBM), "rssi_out_of_range"))
    rules.append((rssi.is_null(), "missing_field"))  # every row of a link table is heard
    rules.append((snr.is_not_null() & ~snr.is_between(*SNR_RANGE_DB), "snr_out_of_range"))
    distance = haversine_km(pl.col("_tx_lat"), pl.col("_tx_lon"), pl.col("_rx_lat"), pl.col("_rx_lon"))
    rules.append((distance > MAX_LINK_DISTANCE_KM, "distance_over_100km"))

    cond, reason = rules[0]
    expr = pl.when(cond.fill_null(False)).then(pl.lit(reason))
    for cond, reason in rules[1:]:
        expr = expr.when(cond.fill_null(False)).then(pl.lit(reason))
    return expr.otherwise(pl.lit(None, pl.String)).alias("reason")


def hex_stats(links: pl.DataFrame, res: int) -> pl.DataFrame:
    """hexcover's HexStats per transmitter cell (heard links only; all are heard here)."""
    rssi = pl.col("rssi_dbm")
    return (
        links.lazy()
        .with_columns(cell=plh3.latlng_to_cell("tx_lat", "tx_lon", res))
        .group_by("cell")
        .agg(
            n_links=pl.len().cast(pl.UInt64),
            n_transmitters=pl.col("tx_id").drop_nulls().n_unique().cast(pl.UInt64),
            n_receivers=pl.col("rx_id").drop_nulls().n_unique().cast(pl.UInt64),
            rssi_mean_dbm=rssi.mean(),
            rssi_median_dbm=rssi.median(),
            rssi_p10_dbm=rssi.quantile(0.1, interpolation="linear"),
            rssi_p90_dbm=rssi.quantile(0.9, interpolation="linear"),
            rssi_max_dbm=rssi.max(),
            snr_mean_db=pl.col("snr_db").mean(),
            # The strongest receiver; among equals the smallest id.
            best_rx_id=pl.col("rx_id").filter(rssi == rssi.max()).min(),
            first_seen_unix_ms=pl.col("time_unix_ms").min(),
            last_seen_unix_ms=pl.col("time_unix_ms").max(),
        )
        .with_columns(
            n_heard=pl.col("n_links"),
            # No id at all in a cell is "unknown" (null), as in hexcover, not 0.
            n_transmitters=pl.when(pl.col("n_transmitters") > 0).then("n_transmitters"),
            n_receivers=pl.when(pl.col("n_receivers") > 0).then("n_receivers"),
            h3_cell=plh3.int_to_str("cell"),
        )
        .sort("cell")
        .collect()
    )


def cell_polygons(cells: pl.Series) -> np.ndarray:
    """Each cell's boundary as a shapely Polygon (lon/lat order; 5 to 10 vertices)."""
    vertices = (
        pl.DataFrame({"cell": cells})
        .with_row_index("ring")
        .select("ring", vertex=plh3.cell_to_boundary("cell"))
        .explode("vertex")
    )
    latlng = vertices["vertex"].list.to_array(2).to_numpy()
    rings = shapely.linearrings(latlng[:, ::-1], indices=vertices["ring"].to_numpy())
    return shapely.polygons(rings)


def write_geoparquet(stats: pl.DataFrame, path: Path) -> None:
    """GeoParquet 1.1: WKB geometry, CRS OGC:CRS84, bbox covering column."""
    first = ["h3_cell", "n_links", "n_heard"]
    table = stats.select(*first, pl.exclude("cell", *first))
    frame = table.to_pandas(use_pyarrow_extension_array=True)  # small: one row per hex
    gdf = gpd.GeoDataFrame(frame, geometry=cell_polygons(stats["cell"]), crs="OGC:CRS84")
    gdf.to_parquet(path, schema_version="1.1.0", write_covering_bbox=True, index=False)


def run(links_csv: Path, out_dir: Path, resolutions: list[int]) -> dict:
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)

    rows = checked_rows(links_csv)
    rows_read = rows.height
    ok = pl.col("reason").is_null()
    rejected = rows.filter(~ok).select("row", "reason", *HEADER)
    links = rows.filter(ok).select(
        *(pl.col(f"_{name}").alias(name) for name in NUMERIC), "tx_id", "rx_id"
    )
    del rows  # the text of accepted rows is no longer needed
    rejected.write_csv(out_dir / "rejects.csv")
    links.write_parquet(out_dir / "links.parquet")

    hexes = {}
    for res in resolutions:
        stats = hex_stats(links, res)
        write_geoparquet(stats, out_dir / f"hexes_res{res}.parquet")
        hexes[res] = stats.height

    return {
        "rows_read": rows_read,
        "accepted": links.height,
        "rejected": rejected.height,
        "hexes": sum(hexes.values()),  # over all resolutions given
        "seconds": round(time.perf_counter() - started, 6),
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    total = 0.0
    for _ in range(args.repeat):
        result = run(args.links_csv, args.out_dir, args.res)
        total += result["seconds"]
        print(json.dumps(result))
    if args.repeat > 1 or "--repeat" in argv:
        print(json.dumps({"seconds_total": total}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
