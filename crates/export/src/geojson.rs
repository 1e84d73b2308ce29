use std::io::Write;
use std::path::Path;

use hexcover_core::HexStats;
use serde_json::{Map, Value, json};

use crate::wkb_geom::cell_polygon;
use crate::{Error, Result, write_atomically};

/// Write hex statistics as a GeoJSON FeatureCollection (RFC 7946: WGS 84
/// lon/lat), one Polygon feature per hex with the statistics as properties.
///
/// # Errors
/// [`Error::Io`] naming the file when writing fails.
pub fn write_hexes_geojson(path: &Path, hexes: &[HexStats]) -> Result<()> {
    write_atomically(path, |tmp| {
        let file = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
        let mut out = std::io::BufWriter::new(file);
        let io = |e: std::io::Error| Error::io(path, e);
        out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")
            .map_err(io)?;
        for (i, h) in hexes.iter().enumerate() {
            if i > 0 {
                out.write_all(b",\n").map_err(io)?;
            }
            serde_json::to_writer(&mut out, &feature(h)).map_err(|e| io(e.into()))?;
        }
        out.write_all(b"\n]}\n").map_err(io)?;
        out.flush().map_err(io)
    })
}

fn feature(h: &HexStats) -> Value {
    let ring: Vec<[f64; 2]> = cell_polygon(h.cell)
        .exterior()
        .coords()
        .map(|c| [c.x, c.y])
        .collect();
    let mut properties = Map::new();
    properties.insert("h3_cell".into(), json!(h.cell.to_string()));
    properties.insert("resolution".into(), json!(u8::from(h.cell.resolution())));
    properties.insert("n_links".into(), json!(h.n_links));
    properties.insert("n_heard".into(), json!(h.n_heard));
    properties.insert("n_invalid".into(), json!(h.n_invalid));
    properties.insert("n_transmitters".into(), json!(h.n_transmitters));
    properties.insert("n_receivers".into(), json!(h.n_receivers));
    properties.insert("rssi_mean_dbm".into(), json!(h.rssi_mean_dbm));
    properties.insert("rssi_median_dbm".into(), json!(h.rssi_median_dbm));
    properties.insert("rssi_p10_dbm".into(), json!(h.rssi_p10_dbm));
    properties.insert("rssi_p90_dbm".into(), json!(h.rssi_p90_dbm));
    properties.insert("rssi_max_dbm".into(), json!(h.rssi_max_dbm));
    properties.insert("snr_mean_db".into(), json!(h.snr_mean_db));
    properties.insert("best_rx_id".into(), json!(h.best_rx_id));
    properties.insert("first_seen_unix_ms".into(), json!(h.first_seen_unix_ms));
    properties.insert("last_seen_unix_ms".into(), json!(h.last_seen_unix_ms));
    json!({
        "type": "Feature",
        "id": h.cell.to_string(),
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": properties
    })
}
