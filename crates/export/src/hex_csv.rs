use std::path::Path;

use hexcover_core::HexStats;
use polars::prelude::*;

use crate::geoparquet::hex_stats_frame;
use crate::wkb_geom::cell_polygon;
use crate::{Error, Result, write_atomically};

/// Write hex statistics as CSV: the GeoParquet columns, with the hexagon as
/// WKT in `geometry_wkt` (QGIS's delimited-text layer reads it) instead of WKB.
///
/// # Errors
/// [`Error`] naming the file when writing fails.
pub fn write_hexes_csv(path: &Path, hexes: &[HexStats]) -> Result<()> {
    let wkt: Vec<String> = hexes
        .iter()
        .map(|h| polygon_wkt(&cell_polygon(h.cell)))
        .collect();
    let mut df = hex_stats_frame(hexes)
        .and_then(|mut df| {
            df.with_column(Column::new("geometry_wkt".into(), wkt))?;
            Ok(df)
        })
        .map_err(Error::polars(path))?;
    write_atomically(path, |tmp| {
        let file = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
        CsvWriter::new(file)
            .finish(&mut df)
            .map_err(Error::polars(path))
    })
}

fn polygon_wkt(polygon: &geo_types::Polygon<f64>) -> String {
    let coords: Vec<String> = polygon
        .exterior()
        .coords()
        .map(|c| format!("{} {}", c.x, c.y))
        .collect();
    format!("POLYGON(({}))", coords.join(", "))
}
