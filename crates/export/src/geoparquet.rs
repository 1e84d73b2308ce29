//! GeoParquet 1.1: WKB geometry, CRS84 as PROJJSON, and a `bbox` covering
//! column so readers can skip row groups by extent.

use std::path::Path;

use hexcover_core::{HexStats, Site};
use polars::prelude::*;
use serde_json::{Value, json};

use crate::wkb_geom::{BBox, cell_wkb, point_wkb};
use crate::{Error, Result, write_atomically};

/// The Parquet key-value metadata key GeoParquet readers look for.
pub const GEO_METADATA_KEY: &str = "geo";

/// OGC:CRS84 (WGS 84, longitude first) as PROJJSON.
fn crs84_projjson() -> Value {
    json!({
        "type": "GeographicCRS",
        "name": "WGS 84 (CRS84)",
        "datum": {
            "type": "GeodeticReferenceFrame",
            "name": "World Geodetic System 1984",
            "ellipsoid": {
                "name": "WGS 84",
                "semi_major_axis": 6_378_137,
                "inverse_flattening": 298.257_223_563
            }
        },
        "coordinate_system": {
            "subtype": "ellipsoidal",
            "axis": [
                {"name": "Geodetic longitude", "abbreviation": "Lon", "direction": "east", "unit": "degree"},
                {"name": "Geodetic latitude", "abbreviation": "Lat", "direction": "north", "unit": "degree"}
            ]
        },
        "id": {"authority": "OGC", "code": "CRS84"}
    })
}

/// The `geo` metadata of a file whose geometries are `geometry_type`.
pub(crate) fn geo_metadata(geometry_type: &str, bbox: BBox, has_rows: bool) -> String {
    let mut column = json!({
        "encoding": "WKB",
        "geometry_types": [geometry_type],
        "crs": crs84_projjson(),
        "edges": "planar",
        "covering": {"bbox": {
            "xmin": ["bbox", "xmin"],
            "ymin": ["bbox", "ymin"],
            "xmax": ["bbox", "xmax"],
            "ymax": ["bbox", "ymax"]
        }}
    });
    if has_rows {
        column["bbox"] = json!(bbox.to_vec());
    }
    json!({
        "version": "1.1.0",
        "primary_column": "geometry",
        "columns": {"geometry": column}
    })
    .to_string()
}

/// The `bbox` covering column.
pub(crate) fn bbox_column(boxes: &[BBox]) -> PolarsResult<Column> {
    let field = |name: &str, get: fn(&BBox) -> f64| {
        Column::new(name.into(), boxes.iter().map(get).collect::<Vec<f64>>())
    };
    let fields = [
        field("xmin", |b| b.xmin),
        field("ymin", |b| b.ymin),
        field("xmax", |b| b.xmax),
        field("ymax", |b| b.ymax),
    ];
    Ok(StructChunked::from_columns("bbox".into(), boxes.len(), &fields)?.into_column())
}

/// The statistics columns of hexes (no geometry), in output order.
pub(crate) fn hex_stats_frame(hexes: &[HexStats]) -> PolarsResult<DataFrame> {
    let n = hexes.len();
    let int = |name: &str, get: fn(&HexStats) -> Option<u64>| {
        let values: Int64Chunked = hexes
            .iter()
            .map(|h| get(h).and_then(|v| i64::try_from(v).ok()))
            .collect();
        values.with_name(name.into()).into_column()
    };
    let float = |name: &str, get: fn(&HexStats) -> Option<f64>| {
        let values: Float64Chunked = hexes.iter().map(get).collect();
        values.with_name(name.into()).into_column()
    };
    let time = |name: &str, get: fn(&HexStats) -> Option<i64>| {
        let values: Int64Chunked = hexes.iter().map(get).collect();
        values.with_name(name.into()).into_column()
    };
    let cells: Vec<String> = hexes.iter().map(|h| h.cell.to_string()).collect();
    let resolution: Vec<i32> = hexes
        .iter()
        .map(|h| i32::from(u8::from(h.cell.resolution())))
        .collect();
    let best: StringChunked = hexes.iter().map(|h| h.best_rx_id.as_deref()).collect();
    DataFrame::new(
        n,
        vec![
            Column::new("h3_cell".into(), cells),
            Column::new("resolution".into(), resolution),
            int("n_links", |h| Some(h.n_links)),
            int("n_heard", |h| Some(h.n_heard)),
            int("n_invalid", |h| Some(h.n_invalid)),
            int("n_transmitters", |h| h.n_transmitters),
            int("n_receivers", |h| h.n_receivers),
            float("rssi_mean_dbm", |h| h.rssi_mean_dbm),
            float("rssi_median_dbm", |h| h.rssi_median_dbm),
            float("rssi_p10_dbm", |h| h.rssi_p10_dbm),
            float("rssi_p90_dbm", |h| h.rssi_p90_dbm),
            float("rssi_max_dbm", |h| h.rssi_max_dbm),
            float("snr_mean_db", |h| h.snr_mean_db),
            best.with_name("best_rx_id".into()).into_column(),
            time("first_seen_unix_ms", |h| h.first_seen_unix_ms),
            time("last_seen_unix_ms", |h| h.last_seen_unix_ms),
        ],
    )
}

fn write_geoparquet(path: &Path, df: DataFrame, geo: String) -> Result<()> {
    write_geoparquet_with(path, df, geo, Vec::new())
}

/// Writes `df` with the `geo` key and `extra` key-value metadata.
pub(crate) fn write_geoparquet_with(
    path: &Path,
    mut df: DataFrame,
    geo: String,
    extra: Vec<(String, String)>,
) -> Result<()> {
    let mut metadata = vec![(GEO_METADATA_KEY.to_owned(), geo)];
    metadata.extend(extra);
    write_atomically(path, |tmp| {
        let file = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
        ParquetWriter::new(file)
            .with_compression(ParquetCompression::Zstd(None))
            .with_key_value_metadata(Some(KeyValueMetadata::from_static(metadata.clone())))
            .finish(&mut df)
            .map_err(Error::polars(path))?;
        Ok(())
    })
}

/// Write hex statistics as GeoParquet 1.1: one row per hex with its H3 cell
/// as a hex string, the statistics, the hexagon as a WKB polygon in CRS84
/// and the `bbox` covering column.
///
/// # Errors
/// [`Error`] naming the file when encoding or writing fails.
pub fn write_hexes_geoparquet(path: &Path, hexes: &[HexStats]) -> Result<()> {
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
    let build = || -> PolarsResult<DataFrame> {
        let mut df = hex_stats_frame(hexes)?;
        let geometry: BinaryChunked = geometries.iter().map(|g| Some(g.as_slice())).collect();
        df.with_column(geometry.with_name("geometry".into()).into_column())?;
        df.with_column(bbox_column(&boxes)?)?;
        Ok(df)
    };
    let df = build().map_err(Error::polars(path))?;
    write_geoparquet(path, df, geo_metadata("Polygon", extent, !hexes.is_empty()))
}

/// Write sites as GeoParquet 1.1 points (CRS84) with their attributes.
///
/// # Errors
/// [`Error`] naming the file when encoding or writing fails.
pub fn write_sites_geoparquet(path: &Path, sites: &[Site]) -> Result<()> {
    let mut geometries = Vec::with_capacity(sites.len());
    let mut boxes = Vec::with_capacity(sites.len());
    let mut extent = BBox::empty();
    for s in sites {
        let wkb = point_wkb(s.lon, s.lat).map_err(|message| Error::Geometry {
            path: path.to_owned(),
            message,
        })?;
        let bbox = BBox {
            xmin: s.lon,
            ymin: s.lat,
            xmax: s.lon,
            ymax: s.lat,
        };
        extent.union(&bbox);
        geometries.push(wkb);
        boxes.push(bbox);
    }
    let text =
        |get: fn(&Site) -> Option<&str>| -> StringChunked { sites.iter().map(get).collect() };
    let float =
        |get: fn(&Site) -> Option<f64>| -> Float64Chunked { sites.iter().map(get).collect() };
    let build = || -> PolarsResult<DataFrame> {
        let geometry: BinaryChunked = geometries.iter().map(|g| Some(g.as_slice())).collect();
        DataFrame::new(
            sites.len(),
            vec![
                text(|s| Some(&s.id)).with_name("id".into()).into_column(),
                text(|s| s.name.as_deref())
                    .with_name("name".into())
                    .into_column(),
                float(|s| Some(s.lat)).with_name("lat".into()).into_column(),
                float(|s| Some(s.lon)).with_name("lon".into()).into_column(),
                float(|s| s.height_agl_m)
                    .with_name("height_agl_m".into())
                    .into_column(),
                float(|s| s.gain_dbi)
                    .with_name("gain_dbi".into())
                    .into_column(),
                text(|s| s.owner.as_deref())
                    .with_name("owner".into())
                    .into_column(),
                text(|s| Some(&s.source))
                    .with_name("source".into())
                    .into_column(),
                geometry.with_name("geometry".into()).into_column(),
                bbox_column(&boxes)?,
            ],
        )
    };
    let df = build().map_err(Error::polars(path))?;
    write_geoparquet(path, df, geo_metadata("Point", extent, !sites.is_empty()))
}
