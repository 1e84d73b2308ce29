//! Per-site coverage as GeoParquet 1.1: one row per H3 cell.

use std::path::Path;

use hexcover_core::{CoverageRun, HexCoverage};
use polars::prelude::*;

use crate::geoparquet::{bbox_column, geo_metadata, write_geoparquet_with};
use crate::wkb_geom::{BBox, cell_wkb};
use crate::{Error, Result};

/// The Parquet key-value metadata key that holds the [`CoverageRun`] of a
/// coverage file as JSON (site, device assumptions, threshold, model).
pub const COVERAGE_RUN_METADATA_KEY: &str = "hexcover:coverage_run";

/// Write per-site coverage as GeoParquet 1.1: one row per cell with
/// `h3_cell` (hex string), `resolution`, `distance_m`, `rssi_pred_dbm`,
/// `rssi_p10_dbm`, `rssi_p90_dbm`, `p_covered`, the hexagon as a WKB polygon
/// in CRS84 (`geometry`) and the `bbox` covering column, in the order given.
/// The run's assumptions are stored as JSON under
/// [`COVERAGE_RUN_METADATA_KEY`] beside the `geo` key.
///
/// # Errors
/// [`Error`] naming the file when encoding or writing fails.
pub fn write_coverage_geoparquet(
    path: &Path,
    hexes: &[HexCoverage],
    run: &CoverageRun,
) -> Result<()> {
    let mut geometries = Vec::with_capacity(hexes.len());
    let mut boxes = Vec::with_capacity(hexes.len());
    let mut extent = BBox::empty();
    for h in hexes {
        let (wkb, bbox) = cell_wkb(h.cell).map_err(|message| Error::Geometry {
            path: path.to_owned(),
            message,
        })?;
        extent.union(&bbox);
        geometries.push(wkb);
        boxes.push(bbox);
    }
    let run_json = serde_json::to_string(run).map_err(|source| Error::Metadata {
        path: path.to_owned(),
        source,
    })?;
    let float = |name: &str, get: fn(&HexCoverage) -> f64| {
        Column::new(name.into(), hexes.iter().map(get).collect::<Vec<f64>>())
    };
    let build = || -> PolarsResult<DataFrame> {
        let cells: Vec<String> = hexes.iter().map(|h| h.cell.to_string()).collect();
        let resolution: Vec<i32> = hexes
            .iter()
            .map(|h| i32::from(u8::from(h.cell.resolution())))
            .collect();
        let geometry: BinaryChunked = geometries.iter().map(|g| Some(g.as_slice())).collect();
        DataFrame::new(
            hexes.len(),
            vec![
                Column::new("h3_cell".into(), cells),
                Column::new("resolution".into(), resolution),
                float("distance_m", |h| h.distance_m),
                float("rssi_pred_dbm", |h| h.rssi_pred_dbm),
                float("rssi_p10_dbm", |h| h.rssi_p10_dbm),
                float("rssi_p90_dbm", |h| h.rssi_p90_dbm),
                float("p_covered", |h| h.p_covered),
                geometry.with_name("geometry".into()).into_column(),
                bbox_column(&boxes)?,
            ],
        )
    };
    let df = build().map_err(Error::polars(path))?;
    write_geoparquet_with(
        path,
        df,
        geo_metadata("Polygon", extent, !hexes.is_empty()),
        vec![(COVERAGE_RUN_METADATA_KEY.to_owned(), run_json)],
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use h3o::{LatLng, Resolution};
    use polars::prelude::*;

    use super::*;

    #[test]
    fn writes_one_row_per_cell_with_the_run_in_the_metadata() {
        let origin = LatLng::new(48.3985, 9.9918)
            .unwrap()
            .to_cell(Resolution::Ten);
        let hexes: Vec<HexCoverage> = origin
            .grid_disk::<Vec<_>>(1)
            .into_iter()
            .enumerate()
            .map(|(i, cell)| HexCoverage {
                cell,
                distance_m: 100.0 * i as f64,
                rssi_pred_dbm: -80.0 - i as f64,
                rssi_p10_dbm: -90.0 - i as f64,
                rssi_p90_dbm: -70.0 - i as f64,
                p_covered: 1.0 - 0.1 * i as f64,
            })
            .collect();
        let run = CoverageRun {
            site_lat: 48.3985,
            site_lon: 9.9918,
            site_height_agl_m: 10.0,
            site_gain_dbi: 3.0,
            freq_mhz: 868.3,
            device_eirp_dbm: 16.0,
            device_height_agl_m: 1.5,
            threshold_dbm: -130.0,
            radius_m: 300.0,
            resolution: 10,
            model: "test".into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cov.parquet");
        write_coverage_geoparquet(&path, &hexes, &run).unwrap();

        let mut file = std::fs::File::open(&path).unwrap();
        let mut reader = ParquetReader::new(&mut file);
        let metadata = reader.get_metadata().unwrap().clone();
        let df = reader.finish().unwrap();
        assert_eq!(df.height(), 7);
        let cells = df.column("h3_cell").unwrap().str().unwrap();
        assert_eq!(cells.get(3), Some(hexes[3].cell.to_string().as_str()));
        let p = df.column("p_covered").unwrap().f64().unwrap();
        assert!((p.get(6).unwrap() - 0.4).abs() < 1e-12);
        let kv = metadata.key_value_metadata().as_ref().unwrap();
        let value = |key: &str| {
            kv.iter()
                .find(|k| k.key == key)
                .and_then(|k| k.value.clone())
                .unwrap()
        };
        let back: CoverageRun = serde_json::from_str(&value(COVERAGE_RUN_METADATA_KEY)).unwrap();
        assert_eq!(back, run);
        let geo: serde_json::Value = serde_json::from_str(&value("geo")).unwrap();
        assert_eq!(geo["columns"]["geometry"]["geometry_types"][0], "Polygon");
    }
}
