"""Check of `hexcover coverage` output on a real Ulm gateway over the real SRTM3 tiles.

The Makefile runs, before pytest (debug build):

    hexcover coverage --dem ../shared/data/srtm3-ulm \
        --site 48.3985081189661,9.991811778526625,10 --radius-km 3 --out OUT

(the Ulm Minster gateway of ulm-ttn-2021/gateways.csv, 10 m up, no --model: the
physics baseline) and passes OUT as HEXCOVER_COVERAGE_OUT.

What is checked, independently of hexcover's own code:
- the file is GeoParquet 1.1 that GeoPandas reads as a GeoDataFrame in OGC:CRS84,
  one polygon per H3 cell, each the cell's boundary by h3-py, the bbox covering
  column equal to the polygon bounds;
- the cells are exactly the res-10 cells whose centre lies within the radius of
  the site (h3-py grid disk + haversine), and `distance_m` is that haversine;
- the interval brackets the prediction and p_covered is P(RSSI >= threshold)
  under the normal residual the run records (the physics baseline's 11 dB);
- coverage on the whole falls with distance (mean RSSI of 500 m rings);
- the run record in the metadata names the site, the defaults and the model.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pyarrow.parquet as pq
import pyproj
import pytest
import shapely
from shapely.geometry import Polygon

SITE_LAT, SITE_LON = 48.3985081189661, 9.991811778526625
RADIUS_M = 3_000.0
RES = 10
EARTH_RADIUS_M = 6_371_008.8  # hexcover's (and h3's) mean earth radius
BASELINE_SIGMA_DB = 11.0
Z90 = 1.2815515655446004


@pytest.fixture(scope="module")
def coverage_path() -> Path:
    value = os.environ.get("HEXCOVER_COVERAGE_OUT")
    if not value:
        pytest.fail(
            "HEXCOVER_COVERAGE_OUT is not set: run `hexcover coverage` first and point it at "
            "the --out file (the Makefile does both)."
        )
    path = Path(value)
    if not path.is_file():
        pytest.fail(f"HEXCOVER_COVERAGE_OUT={value} is not a file: did `hexcover coverage` run?")
    return path


@pytest.fixture(scope="module")
def gdf(coverage_path: Path) -> gpd.GeoDataFrame:
    return gpd.read_parquet(coverage_path)


def haversine_m(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    p1, p2 = math.radians(lat1), np.radians(lat2)
    dphi, dlmb = p2 - p1, np.radians(lon2) - math.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(np.sqrt(a), 1.0))


def run_record(path: Path) -> dict:
    metadata = pq.ParquetFile(path).metadata.metadata or {}
    assert b"hexcover:coverage_run" in metadata, "no run record in the file metadata"
    return json.loads(metadata[b"hexcover:coverage_run"])


def test_reads_as_geodataframe_of_cell_polygons(gdf: gpd.GeoDataFrame) -> None:
    assert isinstance(gdf, gpd.GeoDataFrame)
    assert gdf.crs == pyproj.CRS("OGC:CRS84"), f"CRS {gdf.crs}"
    assert set(gdf.geom_type) == {"Polygon"}
    assert list(gdf.columns) == [
        "h3_cell", "resolution", "distance_m", "rssi_pred_dbm", "rssi_p10_dbm",
        "rssi_p90_dbm", "p_covered", "geometry",
    ], list(gdf.columns)
    assert not gdf["h3_cell"].duplicated().any()
    assert (gdf["resolution"] == RES).all()
    # Each polygon is its cell's boundary as h3-py draws it (lon/lat order).
    worst = 0.0
    for cell, geom in zip(gdf["h3_cell"], gdf.geometry):
        expected = Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])
        worst = max(worst, shapely.hausdorff_distance(geom, expected))
    assert worst < 1e-9, f"polygons differ from h3-py boundaries by up to {worst} degrees"


def test_bbox_column_equals_polygon_bounds(coverage_path: Path, gdf: gpd.GeoDataFrame) -> None:
    bbox = pq.read_table(coverage_path, columns=["bbox"]).column("bbox").combine_chunks()
    got = np.column_stack([bbox.field(k).to_numpy() for k in ("xmin", "ymin", "xmax", "ymax")])
    assert np.nanmax(np.abs(got - shapely.bounds(gdf.geometry.values))) <= 1e-9
    geo = json.loads(pq.ParquetFile(coverage_path).metadata.metadata[b"geo"])
    assert geo["version"] == "1.1.0"
    assert geo["columns"]["geometry"]["encoding"] == "WKB"


def test_cells_are_exactly_those_within_the_radius(gdf: gpd.GeoDataFrame) -> None:
    origin = h3.latlng_to_cell(SITE_LAT, SITE_LON, RES)
    # Res-10 centres are ~130 m apart: 40 rings reach well past 3 km.
    disk = h3.grid_disk(origin, 40)
    centres = np.array([h3.cell_to_latlng(c) for c in disk])
    d = haversine_m(SITE_LAT, SITE_LON, centres[:, 0], centres[:, 1])
    expected = {c for c, dist in zip(disk, d) if dist <= RADIUS_M}
    got = set(gdf["h3_cell"])
    assert got == expected, (
        f"{len(got - expected)} cells too many, {len(expected - got)} missing"
    )
    mine = np.array([h3.cell_to_latlng(c) for c in gdf["h3_cell"]])
    want = haversine_m(SITE_LAT, SITE_LON, mine[:, 0], mine[:, 1])
    worst = np.max(np.abs(gdf["distance_m"].to_numpy() - want))
    assert worst < 1e-3, f"distance_m differs from the haversine by up to {worst} m"


def test_interval_and_probability(coverage_path: Path, gdf: gpd.GeoDataFrame) -> None:
    run = run_record(coverage_path)
    assert run["model"].startswith("physics-baseline"), run["model"]
    assert (run["site_lat"], run["site_lon"]) == (SITE_LAT, SITE_LON)
    assert run["site_height_agl_m"] == 10.0
    # DESIGN.md's radio defaults, recorded in the output.
    assert run["site_gain_dbi"] == 3.0 and run["freq_mhz"] == 868.3
    assert run["device_eirp_dbm"] == 16.0 and run["device_height_agl_m"] == 1.5
    assert run["threshold_dbm"] == -130.0 and run["radius_m"] == RADIUS_M
    assert run["resolution"] == RES

    mean = gdf["rssi_pred_dbm"].to_numpy()
    p10, p90 = gdf["rssi_p10_dbm"].to_numpy(), gdf["rssi_p90_dbm"].to_numpy()
    assert np.all(np.isfinite(mean))
    assert np.all(p10 < mean) and np.all(mean < p90)
    # The baseline's interval: mean ± z0.9 · 11 dB.
    assert np.allclose(p90 - mean, Z90 * BASELINE_SIGMA_DB, atol=1e-9)
    assert np.allclose(mean - p10, Z90 * BASELINE_SIGMA_DB, atol=1e-9)
    # p_covered = P(N(mean, sigma) >= threshold), computed here with math.erfc.
    expected = np.array([
        0.5 * math.erfc((run["threshold_dbm"] - m) / (BASELINE_SIGMA_DB * math.sqrt(2)))
        for m in mean
    ])
    got = gdf["p_covered"].to_numpy()
    assert np.all((got >= 0) & (got <= 1))
    assert np.max(np.abs(got - expected)) < 1e-6


def test_signal_falls_with_distance(gdf: gpd.GeoDataFrame) -> None:
    rings = (gdf["distance_m"] // 500).astype(int)
    means = gdf.groupby(rings)["rssi_pred_dbm"].mean().sort_index().to_numpy()
    assert len(means) == 6
    assert np.all(np.diff(means) < 0), f"mean RSSI per 500 m ring: {means}"
    # Terrain only adds loss to free space (ITU-R P.525, f in MHz, d in km): each cell
    # takes its nearest radial sample, at most half a step (the DEM's 92.7 m pixel) nearer.
    d_km = np.maximum(gdf["distance_m"].to_numpy() - 92.7 / 2, 1.0) / 1000
    fspl = 32.4478 + 20 * math.log10(868.3) + 20 * np.log10(d_km)
    excess = gdf["rssi_pred_dbm"].to_numpy() - (16 + 3 - fspl)
    assert np.all(excess <= 1e-3), f"above free space by up to {excess.max()} dB"
