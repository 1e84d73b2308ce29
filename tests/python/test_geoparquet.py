"""End-to-end check of `hexcover ingest` on the real Ulm TTN drive test (2021).

The Makefile runs, before pytest:

    hexcover ingest ../shared/data/ulm-ttn-2021/measurements.csv \
        --gateways ../shared/data/ulm-ttn-2021/gateways.csv --out OUT --res 8,9,12

and passes OUT as the environment variable HEXCOVER_ULM_OUT. The data folder
is HEXCOVER_SHARED (default: ../shared beside the repository).

What is checked:
- each hexes_res{8,9,12}.parquet is valid GeoParquet 1.1 (read by geopandas,
  metadata read raw with pyarrow), one polygon per H3 cell, bbox covering
  column equal to the polygon bounds;
- the per-hex statistics equal an independent computation with h3-py and
  pandas from the raw CSV files;
- links.parquet, sites.parquet, rejects.csv and summary.json hold what the
  data implies.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyproj
import pytest
import shapely

REPO = Path(__file__).resolve().parents[2]
RESOLUTIONS = [8, 9, 12]

# Known counts of the Ulm data (see shared/data/README.md).
ROWS_READ = 35_876
REJECTED_NO_GATEWAY_POSITION = 756  # receptions by gateways without a published position
ACCEPTED_LINKS = ROWS_READ - REJECTED_NO_GATEWAY_POSITION  # 35,120
SITES = 17

CRS84 = pyproj.CRS("OGC:CRS84")
FLOAT_TOLERANCE = 1e-9
COUNT_COLUMNS = ["n_links", "n_heard", "n_receivers"]
FLOAT_COLUMNS = [
    "rssi_mean_dbm", "rssi_median_dbm", "rssi_p10_dbm", "rssi_p90_dbm", "rssi_max_dbm",
]
ALWAYS_NULL_FOR_ULM = ["n_transmitters", "snr_mean_db", "first_seen_unix_ms", "last_seen_unix_ms"]


# --- where things are -------------------------------------------------------


@pytest.fixture(scope="module")
def out_dir() -> Path:
    """The folder hexcover wrote; the test fails (never skips) without it."""
    value = os.environ.get("HEXCOVER_ULM_OUT")
    if not value:
        pytest.fail(
            "HEXCOVER_ULM_OUT is not set: run `hexcover ingest` on the Ulm data first and "
            "point HEXCOVER_ULM_OUT at its --out folder (the Makefile does both)."
        )
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"HEXCOVER_ULM_OUT={value} is not a folder: did `hexcover ingest` run?")
    return path


def ulm_dir() -> Path:
    shared = Path(os.environ.get("HEXCOVER_SHARED", REPO.parent / "shared"))
    path = shared / "data" / "ulm-ttn-2021"
    assert (path / "measurements.csv").is_file(), f"Ulm data not found in {path}"
    return path


def hexes_path(out_dir: Path, res: int) -> Path:
    path = out_dir / f"hexes_res{res}.parquet"
    assert path.is_file(), f"{path} was not written"
    return path


# --- the independent computation --------------------------------------------


@functools.cache
def measurements() -> pd.DataFrame:
    return pd.read_csv(ulm_dir() / "measurements.csv")


@functools.cache
def gateways() -> pd.DataFrame:
    return pd.read_csv(ulm_dir() / "gateways.csv")


@functools.cache
def accepted_links() -> pd.DataFrame:
    """Measurements whose gateway has a position: the rows hexcover should accept."""
    return measurements().merge(gateways()[["gateway_id"]], on="gateway_id", how="inner")


@functools.cache
def expected_hex_stats(res: int) -> pd.DataFrame:
    """Per transmitter cell statistics, computed with h3-py and pandas."""
    links = accepted_links().copy()
    links["h3_cell"] = [h3.latlng_to_cell(lat, lon, res) for lat, lon in zip(links.lat, links.lon)]
    rssi = links.groupby("h3_cell")["rssi_dbm"]
    stats = pd.DataFrame({
        "n_links": rssi.size(),
        "n_heard": rssi.size(),
        "n_receivers": links.groupby("h3_cell")["gateway_id"].nunique(),
        "rssi_mean_dbm": rssi.mean(),
        "rssi_median_dbm": rssi.median(),
        "rssi_p10_dbm": rssi.quantile(0.1),  # pandas' default: linear interpolation
        "rssi_p90_dbm": rssi.quantile(0.9),
        "rssi_max_dbm": rssi.max(),
    })
    # The strongest receiver; among equal RSSIs the smallest gateway_id.
    strongest_first = links.sort_values(
        ["h3_cell", "rssi_dbm", "gateway_id"], ascending=[True, False, True]
    )
    stats["best_rx_id"] = strongest_first.groupby("h3_cell")["gateway_id"].first()
    return stats.reset_index()


# --- helpers for readable failures --------------------------------------------


def assert_columns_equal(merged: pd.DataFrame, column: str, tolerance: float | None) -> None:
    """Compare `column_actual` with `column_expected`, naming the first differing cells."""
    actual, expected = merged[f"{column}_actual"], merged[f"{column}_expected"]
    if tolerance is None:
        differs = actual.astype(object).to_numpy() != expected.astype(object).to_numpy()
    else:
        a = actual.astype("float64").to_numpy()
        e = expected.astype("float64").to_numpy()
        differs = ~(np.abs(a - e) <= tolerance)
    if differs.any():
        sample = merged.loc[differs, ["h3_cell", f"{column}_actual", f"{column}_expected"]].head(5)
        raise AssertionError(
            f"{column}: {int(differs.sum())} of {len(merged)} hexes differ, e.g.\n"
            f"{sample.to_string(index=False)}"
        )


def geo_metadata(path: Path) -> dict:
    # The file-level key-value metadata, which GeoParquet readers (GeoPandas,
    # GDAL/QGIS, DuckDB, Sedona) read; pyarrow's Arrow-schema view of it is
    # separate and not where the specification puts the key.
    metadata = pq.ParquetFile(path).metadata.metadata or {}
    assert b"geo" in metadata, f"{path.name} has no 'geo' key in its Parquet metadata"
    return json.loads(metadata[b"geo"])


# --- the hex GeoParquet files ------------------------------------------------


@pytest.mark.parametrize("res", RESOLUTIONS, ids=lambda r: f"res{r}")
def test_hexes_read_as_geodataframe_of_cell_polygons(out_dir: Path, res: int) -> None:
    gdf = gpd.read_parquet(hexes_path(out_dir, res))

    assert isinstance(gdf, gpd.GeoDataFrame), f"got {type(gdf)}"
    assert gdf.crs is not None, "no CRS"
    assert gdf.crs == CRS84, f"CRS is {gdf.crs.to_string()}, expected OGC:CRS84"
    assert len(gdf) > 0, "no hexes"
    types = set(gdf.geom_type)
    assert types == {"Polygon"}, f"geometry types {types}, expected only Polygon"
    duplicated = gdf.loc[gdf["h3_cell"].duplicated(), "h3_cell"]
    assert duplicated.empty, f"h3_cell not unique: {duplicated.head().tolist()}"

    # Planar centroids in degrees: fine for this check, a hexagon's lies well inside it.
    centroids = shapely.centroid(gdf.geometry.values)
    outside = [
        cell
        for cell, c in zip(gdf["h3_cell"], centroids)
        if h3.latlng_to_cell(c.y, c.x, res) != cell
    ]
    assert not outside, f"{len(outside)} polygons' centroids are not in their cell: {outside[:5]}"


@pytest.mark.parametrize("res", RESOLUTIONS, ids=lambda r: f"res{r}")
def test_bbox_column_equals_polygon_bounds(out_dir: Path, res: int) -> None:
    path = hexes_path(out_dir, res)
    gdf = gpd.read_parquet(path)
    # geopandas drops the covering column on read; take it straight from the file.
    names = pq.read_schema(path).names
    assert "bbox" in names, f"{path.name} has no bbox column; it has {names}"
    bbox = pq.read_table(path, columns=["bbox"]).column("bbox").combine_chunks()
    got = np.column_stack([bbox.field(k).to_numpy() for k in ("xmin", "ymin", "xmax", "ymax")])
    want = shapely.bounds(gdf.geometry.values)
    worst = np.nanmax(np.abs(got - want)) if len(got) else 0.0
    assert worst <= FLOAT_TOLERANCE, f"bbox differs from polygon bounds by up to {worst}"


@pytest.mark.parametrize("res", RESOLUTIONS, ids=lambda r: f"res{r}")
def test_geo_metadata_is_geoparquet_1_1(out_dir: Path, res: int) -> None:
    path = hexes_path(out_dir, res)
    geo = geo_metadata(path)

    assert geo.get("version") == "1.1.0", f"version {geo.get('version')!r}"
    assert geo.get("primary_column") == "geometry", f"primary_column {geo.get('primary_column')!r}"
    column = geo["columns"]["geometry"]
    assert column.get("encoding") == "WKB", f"encoding {column.get('encoding')!r}"
    assert column.get("geometry_types") == ["Polygon"], f"geometry_types {column.get('geometry_types')!r}"

    crs = column.get("crs")
    assert isinstance(crs, dict), f"crs must be a PROJJSON object, got {crs!r}"
    assert crs.get("id") == {"authority": "OGC", "code": "CRS84"}, f"crs id {crs.get('id')!r}"

    expected_covering = {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}
    assert column.get("covering") == {"bbox": expected_covering}, f"covering {column.get('covering')!r}"

    file_bbox = column.get("bbox")
    assert isinstance(file_bbox, list) and len(file_bbox) == 4, f"file bbox {file_bbox!r}"
    xmin, ymin, xmax, ymax = gpd.read_parquet(path).total_bounds
    assert file_bbox[0] <= xmin and file_bbox[1] <= ymin, f"file bbox {file_bbox} misses ({xmin}, {ymin})"
    assert file_bbox[2] >= xmax and file_bbox[3] >= ymax, f"file bbox {file_bbox} misses ({xmax}, {ymax})"


@pytest.mark.parametrize("res", RESOLUTIONS, ids=lambda r: f"res{r}")
def test_hex_stats_match_independent_computation(out_dir: Path, res: int) -> None:
    actual = pd.DataFrame(gpd.read_parquet(hexes_path(out_dir, res)).drop(columns="geometry"))
    expected = expected_hex_stats(res)

    missing = set(expected["h3_cell"]) - set(actual["h3_cell"])
    extra = set(actual["h3_cell"]) - set(expected["h3_cell"])
    assert not missing and not extra, (
        f"cells differ: {len(missing)} expected but absent (e.g. {sorted(missing)[:3]}), "
        f"{len(extra)} present but not expected (e.g. {sorted(extra)[:3]})"
    )

    merged = actual.merge(expected, on="h3_cell", suffixes=("_actual", "_expected"))
    for column in COUNT_COLUMNS:
        assert_columns_equal(merged, column, tolerance=None)
    for column in FLOAT_COLUMNS:
        assert_columns_equal(merged, column, tolerance=FLOAT_TOLERANCE)
    assert_columns_equal(merged, "best_rx_id", tolerance=None)

    for column in ALWAYS_NULL_FOR_ULM:
        assert column in actual.columns, f"column {column} is missing"
        not_null = int(actual[column].notna().sum())
        assert not_null == 0, f"{column} should be null for every Ulm hex, {not_null} are not"


# --- the other outputs -------------------------------------------------------


def test_summary_accounts_for_every_row(out_dir: Path) -> None:
    summary = json.loads((out_dir / "summary.json").read_text())
    shown = json.dumps({k: v for k, v in summary.items() if k != "inputs"}, indent=1)

    assert summary["rows_read"] == ROWS_READ, f"rows_read differs from {ROWS_READ}:\n{shown}"
    assert summary["accepted"] + summary["rejected"] == summary["rows_read"], f"unbalanced:\n{shown}"
    assert summary["rejected_by_reason"] == {"rx_without_position": REJECTED_NO_GATEWAY_POSITION}, (
        f"rejected_by_reason differs:\n{shown}"
    )
    assert len(accepted_links()) == ACCEPTED_LINKS, "the inner join of the CSV files changed"


def test_links_parquet(out_dir: Path) -> None:
    table = pq.read_table(out_dir / "links.parquet")

    assert table.num_rows == ACCEPTED_LINKS, f"{table.num_rows} links, expected {ACCEPTED_LINKS}"
    wanted = {"tx_lat", "tx_lon", "rx_lat", "rx_lon", "rssi_dbm", "rx_id", "heard", "valid", "input_row"}
    missing = wanted - set(table.column_names)
    assert not missing, f"links.parquet lacks {sorted(missing)}; it has {table.column_names}"


def test_sites_parquet(out_dir: Path) -> None:
    sites = gpd.read_parquet(out_dir / "sites.parquet")

    assert isinstance(sites, gpd.GeoDataFrame), f"got {type(sites)}"
    assert len(sites) == SITES, f"{len(sites)} sites, expected {SITES}"
    assert sites.crs is not None, "no CRS"
    assert sites.crs == CRS84, f"CRS is {sites.crs.to_string()}, expected OGC:CRS84"
    assert set(sites.geom_type) == {"Point"}, f"geometry types {set(sites.geom_type)}"
    missing = {"id", "name", "lat", "lon"} - set(sites.columns)
    assert not missing, f"sites.parquet lacks {sorted(missing)}; it has {list(sites.columns)}"


def test_rejects_csv_points_at_the_original_lines(out_dir: Path) -> None:
    rejects = pd.read_csv(out_dir / "rejects.csv", dtype=str, keep_default_na=False)

    assert list(rejects.columns) == ["input", "row", "reason", "detail", "original"], list(rejects.columns)
    assert len(rejects) == REJECTED_NO_GATEWAY_POSITION, f"{len(rejects)} rejects"
    reasons = rejects["reason"].value_counts().to_dict()
    assert reasons == {"rx_without_position": REJECTED_NO_GATEWAY_POSITION}, reasons

    # Line n of the file (1-based, the header is line 1) is lines[n - 1].
    lines = (ulm_dir() / "measurements.csv").read_text(encoding="utf-8").splitlines()
    for i in (0, len(rejects) // 2, len(rejects) - 1):
        reject = rejects.iloc[i]
        line_number = int(reject["row"])
        assert 2 <= line_number <= len(lines), f"row {line_number} is not a data line"
        assert lines[line_number - 1] == reject["original"], (
            f"rejects.csv row {i}: line {line_number} of measurements.csv is\n"
            f"  {lines[line_number - 1]!r}\nbut original is\n  {reject['original']!r}"
        )
